
/*
 * TAP output for the unit tests of the media core (run by prove).
 */


#ifndef _TAP_H_INCLUDED_
#define _TAP_H_INCLUDED_


#include <stdio.h>


/* defined by the file with main() */
extern int  tap_tests;
extern int  tap_failed;


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


#define diag(...)                                                            \
    do {                                                                     \
        printf("# ");                                                        \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)


#define tap_done()                                                           \
    (printf("1..%d\n", tap_tests), tap_failed ? 1 : 0)


#endif /* _TAP_H_INCLUDED_ */
