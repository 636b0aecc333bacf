/* Fused per-pixel stage of the image watermark embedder.
 *
 * One pass over the picture: bilinearly upsample the working-resolution luma change (OpenCV's
 * INTER_LINEAR pixel-centre convention), round it to the nearest integer (ties to even, like
 * cvRound), and add it with saturation to every colour channel, copying alpha untouched. The NumPy
 * reference is cv2.resize(..., INTER_LINEAR) followed by labeler.watermark.image.add_luma_delta; the
 * fused version never writes the full-resolution float plane, which is what made the reference ~4x
 * slower than a plain copy + add at 12 MP.
 *
 * Built by `make native` (the Makefile's install step runs it) into labeler/watermark/_fused_embed.so
 * and loaded with ctypes; without it labeler uses the reference.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* 1.5 * 2^23: adding and subtracting it rounds a float of magnitude < 2^22 to the nearest integer, ties
 * to even (the default rounding mode), in a form the compiler vectorises (lrintf to long does not). */
static const float ROUNDER = 12582912.0f;

static void round_row(const float *restrict a, const float *restrict b, float wy, int16_t *restrict out, int n) {
    for (int x = 0; x < n; ++x) {
        float v = a[x] + (b[x] - a[x]) * wy;
        v = fminf(fmaxf(v, -255.0f), 255.0f); /* beyond +-255 saturates anyway */
        v = (v + ROUNDER) - ROUNDER;
        out[x] = (int16_t)(int)v;
    }
}

static void saturating_add_row(const uint8_t *restrict in, const int16_t *restrict step, uint8_t *restrict out,
                               size_t n) {
    for (size_t i = 0; i < n; ++i) {
        int16_t sum = (int16_t)(in[i] + step[i]);
        out[i] = (uint8_t)(sum < 0 ? 0 : (sum > 255 ? 255 : sum));
    }
}

/* Source coordinate and weight for each destination index (OpenCV INTER_LINEAR, clamped borders). */
static void linear_taps(int dst_size, int src_size, int *lo, int *hi, float *weight) {
    const double scale = (double)src_size / (double)dst_size;
    for (int i = 0; i < dst_size; ++i) {
        double position = (i + 0.5) * scale - 0.5;
        int base = (int)floor(position);
        float frac = (float)(position - base);
        if (base < 0) {
            base = 0;
            frac = 0.0f;
        }
        if (base >= src_size - 1) {
            base = src_size - 1;
            frac = 0.0f;
        }
        lo[i] = base;
        hi[i] = base + 1 < src_size ? base + 1 : base;
        weight[i] = frac;
    }
}

/* One source row interpolated to the output width: out[x] = in[lo] + (in[hi] - in[lo]) * w[x]. This was
 * 60-75% of the kernel's time as a loop the compiler vectorised with memory gathers. With AVX-512,
 * sixteen outputs at a time take their taps from sixteen consecutive source samples by a register
 * permutation instead (an upsampling step never spans more than that; a downsampling row leaves the rest
 * to the loop). The arithmetic is the same fused multiply-add the compiler makes of the loop, so the
 * output is bit-identical (checked on 308 shapes against the gather build): 1.10 -> 0.57 ms for a
 * 1080p luma plane. ``padded`` has room for the row plus 16 floats. */
static void horizontal(const float *restrict in, float *restrict padded, int n, const int *restrict lo,
                       const int *restrict hi, const float *restrict w, float *restrict out, int width) {
    int x = 0;
#if defined(__AVX512F__)
    for (int i = 0; i < n; ++i) padded[i] = in[i];
    for (int i = n; i < n + 16; ++i) padded[i] = in[n - 1];
    for (; x + 16 <= width; x += 16) {
        const int base = lo[x];
        if (hi[x + 15] - base >= 16) break;
        const __m512i first = _mm512_set1_epi32(base);
        const __m512i a_index = _mm512_sub_epi32(_mm512_loadu_si512((const void *)(lo + x)), first);
        const __m512i b_index = _mm512_sub_epi32(_mm512_loadu_si512((const void *)(hi + x)), first);
        const __m512 window = _mm512_loadu_ps(padded + base);
        const __m512 a = _mm512_permutexvar_ps(a_index, window);
        const __m512 b = _mm512_permutexvar_ps(b_index, window);
        _mm512_storeu_ps(out + x, _mm512_fmadd_ps(_mm512_sub_ps(b, a), _mm512_loadu_ps(w + x), a));
    }
#else
    (void)padded;
#endif
    for (; x < width; ++x) out[x] = in[lo[x]] + (in[hi[x]] - in[lo[x]]) * w[x];
}

/* Returns 0 on success, -1 when scratch memory cannot be allocated. */
int fused_add_luma_delta(const uint8_t *src, uint8_t *dst, int height, int width, int channels,
                         long src_row_stride, long dst_row_stride, const float *delta, int delta_height,
                         int delta_width) {
    int *x_lo = malloc(sizeof(int) * (size_t)width);
    int *x_hi = malloc(sizeof(int) * (size_t)width);
    float *x_w = malloc(sizeof(float) * (size_t)width);
    int *y_lo = malloc(sizeof(int) * (size_t)height);
    int *y_hi = malloc(sizeof(int) * (size_t)height);
    float *y_w = malloc(sizeof(float) * (size_t)height);
    float *row_a = malloc(sizeof(float) * (size_t)width);
    float *row_b = malloc(sizeof(float) * (size_t)width);
    float *padded = malloc(sizeof(float) * ((size_t)delta_width + 16));
    const size_t row_bytes = (size_t)width * (size_t)channels;
    /* calloc: alpha slots stay 0 for the whole picture. */
    int16_t *expanded = calloc(row_bytes, sizeof(int16_t));
    int16_t *step_row = malloc(sizeof(int16_t) * (size_t)width);
    int status = 0;
    if (!x_lo || !x_hi || !x_w || !y_lo || !y_hi || !y_w || !row_a || !row_b || !padded || !expanded || !step_row) {
        status = -1;
        goto done;
    }
    linear_taps(width, delta_width, x_lo, x_hi, x_w);
    linear_taps(height, delta_height, y_lo, y_hi, y_w);
    int row_a_source = -1, row_b_source = -1;
    const int colour = channels >= 3 ? 3 : 1;
    for (int y = 0; y < height; ++y) {
        /* Horizontal interpolation of the two source rows, reused while they stay the same. */
        if (row_a_source != y_lo[y]) {
            if (row_b_source == y_lo[y]) {
                float *swap = row_a;
                row_a = row_b;
                row_b = swap;
                row_b_source = -1;
            } else {
                const float *in = delta + (size_t)y_lo[y] * (size_t)delta_width;
                horizontal(in, padded, delta_width, x_lo, x_hi, x_w, row_a, width);
            }
            row_a_source = y_lo[y];
        }
        if (row_b_source != y_hi[y]) {
            const float *in = delta + (size_t)y_hi[y] * (size_t)delta_width;
            horizontal(in, padded, delta_width, x_lo, x_hi, x_w, row_b, width);
            row_b_source = y_hi[y];
        }
        const float wy = y_w[y];
        /* The step for every byte of the row (alpha bytes get 0), so the add below is one flat,
         * vectorisable loop over bytes. */
        int16_t *steps = channels == 1 ? expanded : step_row;
        round_row(row_a, row_b, wy, steps, width);
        if (channels == 3) {
            for (int x = 0; x < width; ++x) {
                expanded[3 * (size_t)x] = steps[x];
                expanded[3 * (size_t)x + 1] = steps[x];
                expanded[3 * (size_t)x + 2] = steps[x];
            }
        } else if (channels > 1) {
            for (int x = 0; x < width; ++x)
                for (int c = 0; c < colour; ++c) expanded[(size_t)channels * x + c] = steps[x];
        }
        const uint8_t *in_row = src + (size_t)y * (size_t)src_row_stride;
        uint8_t *out_row = dst + (size_t)y * (size_t)dst_row_stride;
        saturating_add_row(in_row, expanded, out_row, row_bytes);
    }
done:
    free(x_lo);
    free(x_hi);
    free(x_w);
    free(y_lo);
    free(y_hi);
    free(y_w);
    free(row_a);
    free(row_b);
    free(padded);
    free(expanded);
    free(step_row);
    return status;
}

/* Perceptual mask, the two per-pixel chains around its blurs (labeler.watermark.masking.perceptual_mask
 * is the reference; these give bit-identical float32 results: the same operations in the same order, one
 * rounding each, no fused multiply-add). The reference makes six and five passes over the working plane
 * with a temporary each; these make one. */
#define NO_CONTRACTION __attribute__((optimize("fp-contract=off")))

/* mean_sq = clip(sqrt(max(mean_sq - mean * mean, 0)) * scale, lo, hi), in place: local activity to gain. */
NO_CONTRACTION void mask_activity(const float *restrict mean, float *restrict mean_sq, long n, float scale, float lo,
                                  float hi) {
    for (long i = 0; i < n; ++i) {
        float square = mean[i] * mean[i];
        float variance = mean_sq[i] - square;
        variance = variance > 0.0f ? variance : 0.0f;
        float gain = sqrtf(variance) * scale;
        gain = gain > lo ? gain : lo;
        mean_sq[i] = gain < hi ? gain : hi;
    }
}

/* gain *= clip(min(mean, 255 - mean) * inv_margin, 0, 1), in place: less pattern near black and white. */
NO_CONTRACTION void mask_headroom(float *restrict gain, const float *restrict mean, long n, float inv_margin) {
    for (long i = 0; i < n; ++i) {
        float headroom = 255.0f - mean[i];
        headroom = mean[i] < headroom ? mean[i] : headroom;
        headroom = headroom * inv_margin;
        headroom = headroom > 0.0f ? headroom : 0.0f;
        headroom = headroom < 1.0f ? headroom : 1.0f;
        gain[i] = gain[i] * headroom;
    }
}
