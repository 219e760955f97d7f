/* vfabd_main.c - placeholder until the forwarder lands. */
#include <stdio.h>
int main(void) { fprintf(stderr, "vfabd: not built yet\n"); return 1; }
