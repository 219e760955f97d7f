/* model.c - the model's lifetime, lookups and enum spellings.
 *
 * What is checked about a model lives in validate.c (per entry) and
 * validate_unique.c (across entries); ids are given in ids.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_model.h"
#include "tunnel/vf_tunnel.h"

/* ---- enum spellings, from the X-macros in vf_model.h ---- */

#define ENUM_TABLE(name, xmacro, prefix)                                    \
    static const char *const name##_names[] = { xmacro(NAME_) };           \
    static const int name##_values[] = { xmacro(prefix) };                  \
    const struct vf_model_enum name = {                                     \
        sizeof(name##_names) / sizeof(name##_names[0]), name##_names,       \
        name##_values }
#define NAME_(id, s, ...) s,
#define ENCAP_(id, s) VF_MODEL_ENCAP_##id,
#define ATTACH_(id, s) VF_ATTACH_##id,
#define AMODE_(id, s) VF_ATTACH_MODE_##id,
#define UPLINK_(id, s) VF_UPLINK_##id,
#define ACL_(id, s) VF_ACL_##id,
#define PROTO_(id, s, num) VF_ACL_PROTO_##id,
#define NAT_(id, s) VF_NAT_##id,
#define LB_(id, s) VF_LB_##id,

ENUM_TABLE(vf_model_encaps, VF_MODEL_ENCAPS, ENCAP_);
ENUM_TABLE(vf_attach_types, VF_ATTACH_TYPES, ATTACH_);
ENUM_TABLE(vf_attach_modes, VF_ATTACH_MODES, AMODE_);
ENUM_TABLE(vf_uplink_types, VF_UPLINK_TYPES, UPLINK_);
ENUM_TABLE(vf_acl_dirs, VF_ACL_DIRS, ACL_);
ENUM_TABLE(vf_acl_actions, VF_ACL_ACTIONS, ACL_);
ENUM_TABLE(vf_acl_protos, VF_ACL_PROTOS, PROTO_);
ENUM_TABLE(vf_nat_types, VF_NAT_TYPES, NAT_);
ENUM_TABLE(vf_lb_protos, VF_LB_PROTOS, LB_);

const char *vf_model_enum_name(const struct vf_model_enum *e, int value)
{
    for (unsigned i = 0; i < e->n; i++)
        if (e->values[i] == value)
            return e->names[i];
    return NULL;
}

bool vf_model_enum_parse(const struct vf_model_enum *e, const char *s,
                         int *value)
{
    for (unsigned i = 0; s && i < e->n; i++)
        if (strcmp(e->names[i], s) == 0) {
            *value = e->values[i];
            return true;
        }
    return false;
}

void vf_model_enum_list(const struct vf_model_enum *e, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < e->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 i == 0 ? "" : i + 1 < e->n ? ", " : " or ",
                                 e->names[i]);
}

static const char *name_or_q(const struct vf_model_enum *e, int value)
{
    const char *s = vf_model_enum_name(e, value);
    return s ? s : "?";
}

const char *vf_model_encap_name(enum vf_model_encap e)
{
    return name_or_q(&vf_model_encaps, (int)e);
}

const char *vf_attach_type_name(enum vf_attach_type t)
{
    return name_or_q(&vf_attach_types, (int)t);
}

const char *vf_attach_mode_name(enum vf_attach_mode m)
{
    return name_or_q(&vf_attach_modes, (int)m);
}

const char *vf_uplink_type_name(enum vf_uplink_type t)
{
    return name_or_q(&vf_uplink_types, (int)t);
}

const char *vf_acl_dir_name(enum vf_acl_dir d)
{
    return name_or_q(&vf_acl_dirs, (int)d);
}

const char *vf_acl_action_name(enum vf_acl_action a)
{
    return name_or_q(&vf_acl_actions, (int)a);
}

/* ---- lifetime and lookups ---- */

void vf_model_free(struct vf_model *m)
{
    if (!m)
        return;
    for (size_t t = 0; m->tenants && t < m->n_tenants; t++) {
        struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; tn->switches && s < tn->n_switches; s++)
            free(tn->switches[s].ports);
        for (size_t r = 0; tn->routers && r < tn->n_routers; r++) {
            free(tn->routers[r].ports);
            free(tn->routers[r].routes);
            free(tn->routers[r].nats);
        }
        free(tn->switches);
        free(tn->routers);
        free(tn->acls);
        for (size_t g = 0; tn->pgroups && g < tn->n_pgroups; g++) {
            free(tn->pgroups[g].ports);
            free(tn->pgroups[g].refs);
        }
        free(tn->pgroups);
        for (size_t a = 0; tn->asets && a < tn->n_asets; a++)
            free(tn->asets[a].addrs);
        free(tn->asets);
        for (size_t l = 0; tn->lbs && l < tn->n_lbs; l++) {
            free(tn->lbs[l].backends);
            free(tn->lbs[l].switches);
            free(tn->lbs[l].routers);
        }
        free(tn->lbs);
    }
    free(m->tenants);
    free(m->chassis);
    memset(m, 0, sizeof(*m));
}

int vf_model_find_port(const struct vf_model *m, const char *name,
                       size_t *tenant, size_t *sw, size_t *port)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++) {
            const struct vf_model_switch *ls = &tn->switches[s];
            for (size_t p = 0; p < ls->n_ports; p++) {
                if (strcmp(ls->ports[p].name, name) != 0)
                    continue;
                if (tenant)
                    *tenant = t;
                if (sw)
                    *sw = s;
                if (port)
                    *port = p;
                return 0;
            }
        }
    }
    return -ENOENT;
}

uint16_t vf_model_chassis_port(const struct vf_model_chassis *ch)
{
    if (ch->udp_port)
        return ch->udp_port;
    return ch->encap == VF_MODEL_ENCAP_VXLAN ? VF_VXLAN_UDP_PORT
                                             : VF_GENEVE_UDP_PORT;
}

int vf_model_find_chassis(const struct vf_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_chassis; i++)
        if (strcmp(m->chassis[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* RFC 4291 appendix A: fe80::/64 and the MAC as a modified EUI-64 (the
 * universal/local bit flipped, ff:fe in the middle). */
void vf_model_lla(const uint8_t mac[6], uint8_t lla[16])
{
    memset(lla, 0, 16);
    lla[0] = 0xfe;
    lla[1] = 0x80;
    lla[8] = mac[0] ^ 0x02;
    lla[9] = mac[1];
    lla[10] = mac[2];
    lla[11] = 0xff;
    lla[12] = 0xfe;
    lla[13] = mac[3];
    lla[14] = mac[4];
    lla[15] = mac[5];
}
