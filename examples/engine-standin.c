/* A stand-in for Prisma's query engine in the example app: a small real ELF shared object (or, with
 * -DWITH_MAIN, an executable) named as Prisma names its engines. Prisma's real engines are ~20 MB
 * Rust binaries; this file only lets the demo and tests exercise photon-bundle without the network. */
#include <stdio.h>

#ifndef TARGET
#define TARGET "unknown"
#endif

const char *photon_bundle_engine_target(void) { return TARGET; }

#ifdef WITH_MAIN
int main(void) {
    puts(TARGET);
    return 0;
}
#endif
