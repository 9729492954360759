/*
 * csv_masks.c - the scanner's structural masks (csv_int.h): for a 64-byte
 * block of the buffer, one bit per byte that is , LF CR or " (m_unq), one
 * per quote (m_q) and one per LF (m_lf), by SIMD compares where the CPU
 * has them (csv_simd_level).  Bytes at or past the buffer's end are clear.
 */
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "quality/csv_int.h"

static uint64_t valid_bits(const struct scanner *sc, size_t blk)
{
	size_t n = sc->end - blk;
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static void set_masks(struct scanner *sc, size_t blk, uint64_t unq, uint64_t q, uint64_t lf)
{
	uint64_t v = valid_bits(sc, blk);
	sc->m_unq = unq & v;
	sc->m_q = q & v;
	sc->m_lf = lf & v;
	sc->mblk = blk;
}

static void masks_scalar(struct scanner *sc, size_t blk)
{
	const unsigned char *p = (const unsigned char *)sc->buf + blk;
	uint64_t unq = 0, q = 0, lf = 0;
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bit = 1ULL << i;
		switch (p[i]) {
		case '"':  q |= bit; unq |= bit; break;
		case '\n': lf |= bit; unq |= bit; break;
		case ',': case '\r': unq |= bit; break;
		}
	}
	set_masks(sc, blk, unq, q, lf);
}

#ifdef __SSE2__
static void masks_sse2(struct scanner *sc, size_t blk)
{
	const char *p = sc->buf + blk;
	const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
	const __m128i nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	uint64_t unq = 0, q = 0, lf = 0;
	for (unsigned i = 0; i < 4; i++) {
		__m128i v = _mm_load_si128((const __m128i *)(const void *)(p + 16 * i));
		__m128i eq = _mm_cmpeq_epi8(v, quote), el = _mm_cmpeq_epi8(v, nl);
		__m128i any = _mm_or_si128(_mm_or_si128(eq, el),
		              _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, cr)));
		q |= (uint64_t)(uint16_t)_mm_movemask_epi8(eq) << (16 * i);
		lf |= (uint64_t)(uint16_t)_mm_movemask_epi8(el) << (16 * i);
		unq |= (uint64_t)(uint16_t)_mm_movemask_epi8(any) << (16 * i);
	}
	set_masks(sc, blk, unq, q, lf);
}
#endif

#ifdef __x86_64__
__attribute__((target("avx2")))
static void masks_avx2(struct scanner *sc, size_t blk)
{
	const char *p = sc->buf + blk;
	const __m256i comma = _mm256_set1_epi8(','), quote = _mm256_set1_epi8('"');
	const __m256i nl = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
	uint64_t unq = 0, q = 0, lf = 0;
	for (unsigned i = 0; i < 2; i++) {
		__m256i v = _mm256_load_si256((const __m256i *)(const void *)(p + 32 * i));
		__m256i eq = _mm256_cmpeq_epi8(v, quote), el = _mm256_cmpeq_epi8(v, nl);
		__m256i any = _mm256_or_si256(_mm256_or_si256(eq, el),
		              _mm256_or_si256(_mm256_cmpeq_epi8(v, comma),
		                              _mm256_cmpeq_epi8(v, cr)));
		q |= (uint64_t)(uint32_t)_mm256_movemask_epi8(eq) << (32 * i);
		lf |= (uint64_t)(uint32_t)_mm256_movemask_epi8(el) << (32 * i);
		unq |= (uint64_t)(uint32_t)_mm256_movemask_epi8(any) << (32 * i);
	}
	set_masks(sc, blk, unq, q, lf);
}
#endif

enum csv_simd csv_simd_level(void)
{
	const char *force = getenv("DENVERD_CSV_SIMD");   /* tests: scalar, sse2 */
	if (force && strcmp(force, "scalar") == 0)
		return CSV_SIMD_SCALAR;
#ifdef __x86_64__
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && !(force && strcmp(force, "sse2") == 0))
		return CSV_SIMD_AVX2;
#endif
#ifdef __SSE2__
	return CSV_SIMD_SSE2;
#else
	return CSV_SIMD_SCALAR;
#endif
}

void (*csv_pick_masks(void))(struct scanner *sc, size_t blk)
{
	switch (csv_simd_level()) {
#ifdef __x86_64__
	case CSV_SIMD_AVX2: return masks_avx2;
#endif
#ifdef __SSE2__
	case CSV_SIMD_SSE2: return masks_sse2;
#endif
	default: return masks_scalar;
	}
}

