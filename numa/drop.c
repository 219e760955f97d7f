/* drop.c - names of the drop reasons (table in vf_drop.h). */
#include "numa/vf_drop.h"

static const char *const drop_names[VF_DROP__COUNT] = {
#define VF_DROP_NAME_(id, name) [VF_DROP_##id] = name,
    VF_DROP_REASONS(VF_DROP_NAME_)
#undef VF_DROP_NAME_
};

const char *vf_drop_name(unsigned reason)
{
    return reason < VF_DROP__COUNT ? drop_names[reason] : "unknown";
}
