/*
 * backoff.c - exponential backoff with full jitter.
 */
#include <stdbool.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "domain/backoff.h"

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t backoff_cap(const struct cfg_retry *r, unsigned n)
{
	uint64_t cap = min_u64(r->max_delay_ms, BACKOFF_CEILING_MS);
	uint64_t d = r->delay_ms;

	/* Doubling stops as soon as the cap is reached, so no overflow. */
	for (unsigned i = 0; i < n && d < cap; i++)
		d = d > cap / 2 ? cap : d * 2;
	return min_u64(d, cap);
}

uint64_t backoff_delay(const struct cfg_retry *r, unsigned n, uint64_t rnd)
{
	uint64_t cap = backoff_cap(r, n);

	/* Scale RND into [0, cap] by a 128-bit multiply: no modulo bias. */
	return (uint64_t)(((unsigned __int128)rnd * ((unsigned __int128)cap + 1)) >> 64);
}

uint64_t backoff_wait(const struct cfg_retry *r, unsigned n, uint64_t rnd,
                      uint64_t retry_after_ms)
{
	uint64_t d = backoff_delay(r, n, rnd);

	if (retry_after_ms > d)
		d = min_u64(retry_after_ms, BACKOFF_CEILING_MS);
	return d;
}

/* splitmix64: tiny, statistically fine for jitter, one syscall per process. */
uint64_t backoff_random(void)
{
	static uint64_t state;
	static bool seeded;
	uint64_t z;

	if (!seeded) {
		if (getrandom(&state, sizeof state, GRND_NONBLOCK) != sizeof state) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			        (uint64_t)getpid();
		}
		seeded = true;
	}
	z = (state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
