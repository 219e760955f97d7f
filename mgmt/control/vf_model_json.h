/* vf_model_json.h - the model as JSON, in the shape of the YAML schema.
 *
 * What: `vfabctl show` prints it; since JSON is YAML, the output is itself
 * a desired-state file that vfabd -c can load (the round trip is tested).
 *
 * Thread-safety: reads the model; management thread only.
 */
#ifndef VF_MODEL_JSON_H
#define VF_MODEL_JSON_H

#include <jansson.h>

#include "mgmt/control/vf_model.h"

/* New reference; includes `local` when the model has it. */
json_t *vf_model_to_json(const struct vf_model *m);

#endif
