/* vf_parse_util.h - the small text parsers the control plane shares.
 *
 * What: MAC addresses, unsigned numbers, IPv4 addresses, prefixes and
 * ADDR:PORT pairs as operators write them in YAML, vfabctl specs and
 * trace fields. One copy each, so a MAC that one command accepts is a MAC
 * everywhere. All are strict: the whole string must match, no spaces, no
 * signs, decimal numbers only (no 0x, no octal).
 *
 * Thread-safety: pure functions.
 */
#ifndef VF_PARSE_UTIL_H
#define VF_PARSE_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits, value <= max. */
bool vf_parse_uint(const char *s, unsigned long max, unsigned long *out);
/* True when s is one or more decimal digits (whatever their value). */
bool vf_parse_all_digits(const char *s);
/* Six two-digit hex bytes separated by ':' ("02:00:00:00:01:0a"). */
bool vf_parse_mac(const char *s, uint8_t mac[6]);
/* Dotted-quad IPv4, network order. */
bool vf_parse_ip4(const char *s, uint32_t *ip);
/* "A.B.C.D/N" (N 0..32); with need_plen false also "A.B.C.D" (a /32).
 * ip in network order, host bits as written. */
bool vf_parse_cidr(const char *s, bool need_plen, uint32_t *ip,
                   uint8_t *plen);
/* "ADDR[:PORT]", port 1..65535; need_port: the port must be there (else
 * *port is 0). ip in network order. */
bool vf_parse_ip_port(const char *s, bool need_port, uint32_t *ip,
                      uint16_t *port);

#endif
