/* yaml_guard.c - nesting depth and text checks before loading (vf_yaml_guard.h). */
#include <errno.h>
#include <stdio.h>
#include <yaml.h>

#include "mgmt/control/vf_text.h"
#include "mgmt/control/vf_yaml_guard.h"

int vf_yaml_guard(const char *file, const char *yaml, size_t len, char *err,
                  size_t errlen)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    unsigned depth = 0;
    int rc = vf_text_check(file, yaml, len, err, errlen);

    if (rc)
        return rc;
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", file);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    /* Bounded: each event consumes input, and the pass stops at the end of
     * the stream, at a syntax error, or at the first level too deep. */
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : 0;
            if (rc)
                snprintf(err, errlen, "%s: out of memory parsing YAML", file);
            break;
        }
        yaml_event_type_t t = ev.type;
        if ((t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) &&
            ++depth > VF_YAML_MAX_DEPTH) {
            snprintf(err, errlen, "%s:%lu:%lu: YAML nested more than %u levels "
                     "deep (the desired state's schema uses %u: tenants, "
                     "switches, ports, their ips); refused before loading", file, (unsigned long)ev.start_mark.line + 1,
                     (unsigned long)ev.start_mark.column + 1, VF_YAML_MAX_DEPTH,
                     VF_YAML_SCHEMA_DEPTH);
            rc = -EINVAL;
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        yaml_event_delete(&ev);
        if (rc || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}
