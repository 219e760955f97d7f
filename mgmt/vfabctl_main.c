/* vfabctl_main.c - placeholder until the control socket lands. */
#include <stdio.h>
int main(void) { fprintf(stderr, "vfabctl: not built yet\n"); return 1; }
