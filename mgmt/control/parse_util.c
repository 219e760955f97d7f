/* parse_util.c - MAC, number, IPv4, prefix and ADDR:PORT parsers
 * (vf_parse_util.h). */
#include <arpa/inet.h>
#include <string.h>

#include "mgmt/control/vf_parse_util.h"

bool vf_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (!s || !*s)
        return false;
    for (; *s; s++) {
        unsigned long d = (unsigned long)(*s - '0');
        if (*s < '0' || *s > '9' || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool vf_parse_all_digits(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

bool vf_parse_mac(const char *s, uint8_t mac[6])
{
    uint8_t out[6];

    if (!s)
        return false;
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s != (i == 5 ? '\0' : ':'))
            return false;
        if (i < 5)
            s++;
    }
    memcpy(mac, out, 6);
    return true;
}

bool vf_parse_ip4(const char *s, uint32_t *ip)
{
    struct in_addr a;

    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *ip = a.s_addr;
    return true;
}

bool vf_parse_cidr(const char *s, bool need_plen, uint32_t *ip,
                   uint8_t *plen)
{
    char buf[INET_ADDRSTRLEN + 4];
    const char *slash;
    unsigned long n = 32;
    size_t len;

    if (!s)
        return false;
    slash = strchr(s, '/');
    len = slash ? (size_t)(slash - s) : strlen(s);
    if ((!slash && need_plen) || len >= INET_ADDRSTRLEN)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!vf_parse_ip4(buf, ip))
        return false;
    if (slash && !vf_parse_uint(slash + 1, 32, &n))
        return false;
    *plen = (uint8_t)n;
    return true;
}

bool vf_parse_ip_port(const char *s, bool need_port, uint32_t *ip,
                      uint16_t *port)
{
    char buf[INET_ADDRSTRLEN + 8], *colon;
    unsigned long p = 0;

    if (!s || strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    colon = strchr(buf, ':');
    if (!colon && need_port)
        return false;
    if (colon) {
        *colon = '\0';
        if (!vf_parse_uint(colon + 1, 65535, &p) || p == 0)
            return false;
    }
    if (!vf_parse_ip4(buf, ip))
        return false;
    *port = (uint16_t)p;
    return true;
}
