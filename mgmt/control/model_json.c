/* model_json.c - model -> JSON in the YAML schema's field names. */
#include <arpa/inet.h>
#include <stdio.h>

#include "mgmt/control/vf_model_json.h"

static json_t *ip_str(uint32_t ip_be)
{
    char b[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip_be, b, sizeof(b));
    return json_string(b);
}

static json_t *prefix_str(uint32_t ip_be, unsigned plen)
{
    char b[INET_ADDRSTRLEN], o[32];
    inet_ntop(AF_INET, &ip_be, b, sizeof(b));
    snprintf(o, sizeof(o), "%s/%u", b, plen);
    return json_string(o);
}

static json_t *mac_str(const uint8_t m[6])
{
    char b[18];
    snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
             m[3], m[4], m[5]);
    return json_string(b);
}

static json_t *range_str(uint16_t lo, uint16_t hi)
{
    char b[16];
    if (lo == hi)
        snprintf(b, sizeof(b), "%u", lo);
    else
        snprintf(b, sizeof(b), "%u-%u", lo, hi);
    return json_string(b);
}

static const char *encap_name(enum vf_model_encap e)
{
    return e == VF_MODEL_ENCAP_VXLAN ? "vxlan" : "geneve";
}

static json_t *port_json(const struct vf_model_port *p)
{
    json_t *ips = json_array();
    for (unsigned i = 0; i < p->n_ips; i++)
        json_array_append_new(ips, ip_str(p->ips[i]));
    for (unsigned i = 0; i < p->n_ip6s; i++) {
        char b[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, p->ip6s[i], b, sizeof(b));
        json_array_append_new(ips, json_string(b));
    }
    json_t *attach = json_object();
    switch (p->attach.type) {
    case VF_ATTACH_RING:
        json_object_set_new(attach, "type", json_string("ring"));
        break;
    case VF_ATTACH_TAP:
        json_object_set_new(attach, "type", json_string("tap"));
        json_object_set_new(attach, "name", json_string(p->attach.name));
        break;
    case VF_ATTACH_VERBS:
        json_object_set_new(attach, "type", json_string("verbs"));
        json_object_set_new(attach, "device", json_string(p->attach.device));
        break;
    }
    return json_pack("{s:s, s:o, s:o, s:s, s:o, s:b}", "name", p->name, "mac",
                     mac_str(p->mac), "ips", ips, "chassis", p->chassis,
                     "attach", attach, "port_security", p->port_security);
}

static json_t *acl_json(const struct vf_model_acl *a)
{
    json_t *match = json_object();
    static const char *const protos[256] = {[1] = "icmp", [6] = "tcp", [17] = "udp"};
    if (a->proto)
        json_object_set_new(match, "proto", protos[a->proto]
                                                ? json_string(protos[a->proto])
                                                : json_integer(a->proto));
    if (a->src_plen)
        json_object_set_new(match, "src_ip", prefix_str(a->ip_src, a->src_plen));
    if (a->dst_plen)
        json_object_set_new(match, "dst_ip", prefix_str(a->ip_dst, a->dst_plen));
    if (a->sport_lo != 0 || a->sport_hi != 65535)
        json_object_set_new(match, "src_port", range_str(a->sport_lo, a->sport_hi));
    if (a->dport_lo != 0 || a->dport_hi != 65535)
        json_object_set_new(match, "dst_port", range_str(a->dport_lo, a->dport_hi));
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:o}", "switch", a->sw,
                          "direction", a->dir == VF_ACL_TO_PORT ? "to-port" : "from-port",
                          "priority", (int)a->priority,
                          "action", a->action == VF_ACL_DROP ? "drop" : "allow",
                          "match", match);
    if (a->port[0])
        json_object_set_new(o, "port", json_string(a->port));
    return o;
}

json_t *vf_model_to_json(const struct vf_model *m)
{
    json_t *chassis = json_array();
    for (size_t i = 0; i < m->n_chassis; i++) {
        const struct vf_model_chassis *c = &m->chassis[i];
        json_t *o = json_pack("{s:s, s:o, s:s}", "name", c->name, "underlay_ip",
                              ip_str(c->underlay_ip), "encap", encap_name(c->encap));
        if (c->udp_port)
            json_object_set_new(o, "port", json_integer(c->udp_port));
        json_array_append_new(chassis, o);
    }
    json_t *tenants = json_array();
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        json_t *sws = json_array(), *rts = json_array(), *acls = json_array();
        for (size_t s = 0; s < tn->n_switches; s++) {
            const struct vf_model_switch *sw = &tn->switches[s];
            json_t *ports = json_array();
            for (size_t p = 0; p < sw->n_ports; p++)
                json_array_append_new(ports, port_json(&sw->ports[p]));
            json_array_append_new(sws, json_pack("{s:s, s:i, s:o}", "name", sw->name,
                                                 "vni", (int)sw->vni, "ports", ports));
        }
        for (size_t r = 0; r < tn->n_routers; r++) {
            const struct vf_model_router *rt = &tn->routers[r];
            json_t *ports = json_array(), *routes = json_array();
            for (size_t p = 0; p < rt->n_ports; p++) {
                const struct vf_model_rport *rp = &rt->ports[p];
                json_array_append_new(ports, json_pack("{s:s, s:s, s:o, s:o}",
                    "name", rp->name, "switch", rp->sw, "mac", mac_str(rp->mac),
                    "cidr", prefix_str(rp->ip, rp->plen)));
            }
            for (size_t k = 0; k < rt->n_routes; k++)
                json_array_append_new(routes, json_pack("{s:o, s:o}",
                    "prefix", prefix_str(rt->routes[k].prefix, rt->routes[k].plen),
                    "nexthop", ip_str(rt->routes[k].nexthop)));
            json_array_append_new(rts, json_pack("{s:s, s:o, s:o}", "name", rt->name,
                                                 "ports", ports, "routes", routes));
        }
        for (size_t a = 0; a < tn->n_acls; a++)
            json_array_append_new(acls, acl_json(&tn->acls[a]));
        json_array_append_new(tenants, json_pack("{s:s, s:o, s:o, s:o}", "name",
                                                 tn->name, "switches", sws,
                                                 "routers", rts, "acls", acls));
    }
    json_t *o = json_pack("{s:o, s:o}", "chassis", chassis, "tenants", tenants);
    if (m->has_local) {
        const struct vf_model_local *l = &m->local;
        json_t *workers;
        switch (l->workers.mode) {
        case VF_MODEL_WORKERS_COUNT:
            workers = json_integer(l->workers.count);
            break;
        case VF_MODEL_WORKERS_LIST:
            workers = json_array();
            for (int i = 0; i < l->workers.n_cpus; i++)
                json_array_append_new(workers, json_integer(l->workers.cpus[i]));
            break;
        default:
            workers = json_string("auto");
        }
        json_t *up = json_object();
        static const char *const uptype[] = {"ring", "udp", "verbs"};
        json_object_set_new(up, "type", json_string(uptype[l->uplink]));
        if (l->uplink == VF_UPLINK_UDP) {
            char b[64], ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &l->bind_ip, ip, sizeof(ip));
            if (l->bind_port)
                snprintf(b, sizeof(b), "%s:%u", ip, l->bind_port);
            else
                snprintf(b, sizeof(b), "%s", ip);
            json_object_set_new(up, "bind", json_string(b));
        } else if (l->uplink == VF_UPLINK_VERBS) {
            json_object_set_new(up, "device", json_string(l->device));
            json_object_set_new(up, "port", json_integer(l->device_port));
        }
        json_t *lo = json_pack("{s:s, s:o, s:o}", "chassis", l->chassis,
                               "workers", workers, "uplink", up);
        if (l->metrics_port) {
            char b[64], ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &l->metrics_ip, ip, sizeof(ip));
            snprintf(b, sizeof(b), "%s:%u", ip, l->metrics_port);
            json_object_set_new(lo, "metrics", json_string(b));
        }
        json_object_set_new(o, "local", lo);
    }
    return o;
}
