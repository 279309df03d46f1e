
/*
 * A minimal TAP producer for the unit tests: ok(cond, fmt, ...) prints
 * "ok N - ..." or "not ok N - ...", tap_done() the plan and the exit
 * code.  One test program per file, so the counters are static.
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdio.h>


static int  tap_tests;
static int  tap_failed;


#define ok(cond, ...)                                                        \
    do {                                                                     \
        tap_tests++;                                                         \
        if (!(cond)) {                                                       \
            tap_failed++;                                                    \
            printf("not ");                                                  \
        }                                                                    \
        printf("ok %d - ", tap_tests);                                       \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
        fflush(stdout);                                                      \
    } while (0)


static inline int
tap_done(void)
{
    printf("1..%d\n", tap_tests);

    return tap_failed ? 1 : 0;
}


#endif /* _TAP_H_INCLUDED_ */
