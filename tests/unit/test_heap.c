/* test_heap.c - heap statistics (numa/vf_heap.h): a live allocation shows
 * in `allocated` and its free takes it out again, so a soak can tell a leak
 * (allocated rising) from the allocator keeping pages (RSS rising).
 * Under AddressSanitizer malloc is the sanitizer's, not jemalloc: the
 * figures do not move, and the test says so and skips (exit 77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "numa/vf_heap.h"

#define BIG (16u << 20)

#if !defined(__SANITIZE_ADDRESS__)
static void allocation_is_counted_and_freed(void **state)
{
    (void)state;
    struct vf_heap_stats a, b, c;
    assert_int_equal(vf_heap_stats(&a), 0);
    char *volatile p = malloc(BIG);
    assert_non_null(p);
    memset(p, 1, BIG);
    assert_int_equal(vf_heap_stats(&b), 0);
    assert_true(b.allocated >= a.allocated + BIG);
    assert_true(b.resident >= BIG);
    free(p);
    assert_int_equal(vf_heap_stats(&c), 0);
    assert_true(c.allocated + BIG <= b.allocated);
}
#endif

int main(void)
{
#if defined(__SANITIZE_ADDRESS__)
    printf("skipped: malloc is AddressSanitizer's here, not jemalloc\n");
    return 77;
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocation_is_counted_and_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
