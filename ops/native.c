/* CPU kernels of the HDR synthesis op: the Debevec merge (paper Eq. 2-3 and Debevec & Malik Eq. 6) and the
 * per-image level histograms of Grossberg-Nayar sampling, one pass over the stack each.
 *
 * Built by ops/native.py with the system C compiler and called through ctypes. With OpenMP, each call
 * splits its elements over `threads` threads of the OpenMP runtime PyTorch itself loaded (the library is
 * linked to libgomp.so.1, which the dynamic loader resolves to the copy torch already loaded), so the
 * kernels and torch's own ops share one pool instead of two pools spinning against each other.
 *
 * Each exposure's (C, P) plane is dense, either channel-last (element e is channel e % C) or
 * channel-first (channel e / P); items and exposures have arbitrary strides. The numbers follow
 * ops/merge.py and ops/crf.py operation by operation. Work is done in blocks of BLOCK elements of one
 * plane: index and weight loops vectorise, table lookups do not. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define BLOCK 256

/* This thread's share [begin, end) of [0, total). */
static void thread_share(int64_t total, int64_t *begin, int64_t *end) {
#ifdef _OPENMP
    const int64_t thread = omp_get_thread_num(), threads = omp_get_num_threads();
#else
    const int64_t thread = 0, threads = 1;
#endif
    *begin = total * thread / threads;
    *end = total * (thread + 1) / threads;
}

/* Exported kernel NAME: RANGE(ARGS..., begin, end) on every thread's share of [0, TOTAL); nonzero on failure. */
#define PARALLEL_KERNEL(NAME, RANGE, TOTAL, PARAMS, ARGS)                                                        \
    int NAME PARAMS {                                                                                           \
        int failed = 0;                                                                                         \
        (void)threads; /* without OpenMP */                                                                     \
        _Pragma("omp parallel num_threads(threads) reduction(|| : failed)") {                                  \
            int64_t begin, end;                                                                                 \
            thread_share(TOTAL, &begin, &end);                                                                  \
            failed = RANGE ARGS;                                                                                \
        }                                                                                                       \
        return failed;                                                                                          \
    }

/* How elements map to table rows (levels * channel). */
typedef struct {
    int64_t plane, pixels;
    int channels, channel_last, levels;
    int *cycle;        /* channel-last: levels * (i % channels), i < BLOCK + channels */
    int fill[BLOCK];   /* channel-first: the block's one row, repeated */
} Layout;

static int layout_init(Layout *layout, int channels, int64_t pixels, int channel_last, int levels) {
    layout->plane = pixels * channels;
    layout->pixels = pixels;
    layout->channels = channels;
    layout->channel_last = channel_last;
    layout->levels = levels;
    layout->cycle = malloc(sizeof(int) * (BLOCK + channels));
    if (!layout->cycle) return 1;
    for (int i = 0; i < BLOCK + channels; ++i) layout->cycle[i] = (i % channels) * levels;
    return 0;
}

/* The block from global element start (< end) of planes laid one after another: sets the plane's index,
 * the block's first element in it and its rows; returns its length (it never crosses a plane or, when
 * channel-first, a channel). */
static int next_block(Layout *layout, int64_t start, int64_t end, int64_t *plane_index, int64_t *first,
                      const int **rows) {
    *plane_index = start / layout->plane;
    *first = start - *plane_index * layout->plane;
    const int64_t stop = end < (*plane_index + 1) * layout->plane ? end : (*plane_index + 1) * layout->plane;
    int64_t count = stop - start < BLOCK ? stop - start : BLOCK;
    if (layout->channel_last) {
        *rows = layout->cycle + *first % layout->channels;
        return (int)count;
    }
    const int64_t left = layout->pixels - *first % layout->pixels;
    count = count < left ? count : left;
    const int row = (int)(*first / layout->pixels) * layout->levels;
    for (int i = 0; i < count; ++i) layout->fill[i] = row;
    *rows = layout->fill;
    return (int)count;
}

/* Merge of a float stack through line tables (ops.merge._level_tables): for element e of item b,
 *   k = clamp(ceil((L - 1) x_j), 0, L - 1),  v_j = offsets[b, j, c, k] + x_j slopes[b, c, k]  (g(x_j) - ln t_j),
 *   ln E = sum_j w(x_j) v_j / sum_j w(x_j) with the hat w(x) = 1 - |2x - 1|.
 * A total weight below min_weight takes v of the shortest exposure where the middle image is above 0.5,
 * else of the longest. When factor is given it receives d ln E / d x_j: (w_j g'_j + [weights not
 * detached] w'_j (v_j - ln E)) / sum w, or g' of the fallback exposure (0 for the others); its planes
 * are laid out as the stack's. Returns 1 when scratch memory cannot be allocated. */
#define DEFINE_MERGE(NAME, T, ABS)                                                                               \
    /* The table entry of x: k = clamp(ceil((L - 1) x), 0, L - 1). */                                          \
    static inline int NAME##_segment(T x, int levels) {                                                       \
        const T position = x * (levels - 1);                                                                   \
        int k = (int)position;                                                                                 \
        k += (T)k < position;                                                                                  \
        return k < 0 ? 0 : (k > levels - 1 ? levels - 1 : k);                                                  \
    }                                                                                                          \
                                                                                                               \
    static inline void NAME##_accumulate(int count, const T *x, const int *index, const T *weight,             \
                                         const T *table, const T *slopes, T *numerator, T *total, T *factor,   \
                                         T *values) {                                                          \
        for (int i = 0; i < count; ++i) {                                                                      \
            const T slope = slopes[index[i]], value = table[index[i]] + x[i] * slope;                          \
            numerator[i] += weight[i] * value;                                                                 \
            total[i] += weight[i];                                                                             \
            if (factor) factor[i] = weight[i] * slope;                                                         \
            if (values) values[i] = value;                                                                     \
        }                                                                                                      \
    }                                                                                                          \
                                                                                                               \
    static int NAME##_range(const T *x, int64_t item_stride, int64_t exposure_stride, int exposures,          \
                            int channels, int64_t pixels, int channel_last, int64_t begin, int64_t end,        \
                            const T *offsets, const T *slopes, int levels, const int64_t *shortest,            \
                            const int64_t *longest, T min_weight, int detach_weights, T *merged, T *factor,     \
                            int64_t factor_item_stride, int64_t factor_exposure_stride) {                      \
        Layout layout;                                                                                         \
        T *values = (!detach_weights && factor) ? malloc(sizeof(T) * BLOCK * exposures) : NULL;                \
        if (layout_init(&layout, channels, pixels, channel_last, levels) || (!detach_weights && factor && !values)) { \
            free(layout.cycle);                                                                                \
            free(values);                                                                                      \
            return 1;                                                                                          \
        }                                                                                                      \
        T numerator[BLOCK], total[BLOCK], weight[BLOCK];                                                       \
        int index[BLOCK];                                                                                      \
        for (int64_t start = begin; start < end;) {                                                            \
            int64_t item, first;                                                                               \
            const int *row;                                                                                    \
            const int count = next_block(&layout, start, end, &item, &first, &row);                            \
            const T *item_x = x + item * item_stride + first;                                                  \
            const T *item_slopes = slopes + item * channels * levels;                                          \
            T *item_factor = factor ? factor + item * factor_item_stride + first : NULL;                       \
            for (int i = 0; i < count; ++i) numerator[i] = total[i] = 0;                                       \
            for (int j = 0; j < exposures; ++j) {                                                              \
                const T *xj = item_x + j * exposure_stride;                                                    \
                const T *table = offsets + (item * exposures + j) * channels * levels;                         \
                for (int i = 0; i < count; ++i) { /* vectorisable */                                           \
                    index[i] = NAME##_segment(xj[i], levels) + row[i];                                         \
                    weight[i] = ABS(xj[i] - (T)0.5) * -2 + 1;                                                  \
                }                                                                                              \
                T *fj = item_factor ? item_factor + j * factor_exposure_stride : NULL;                         \
                if (!fj)                                                                                       \
                    NAME##_accumulate(count, xj, index, weight, table, item_slopes, numerator, total, NULL, NULL); \
                else if (!values)                                                                              \
                    NAME##_accumulate(count, xj, index, weight, table, item_slopes, numerator, total, fj, NULL); \
                else                                                                                           \
                    NAME##_accumulate(count, xj, index, weight, table, item_slopes, numerator, total, fj,      \
                                      values + j * BLOCK);                                                     \
            }                                                                                                  \
            T *out = merged + item * layout.plane + first;                                                     \
            const T *middle = item_x + (exposures / 2) * exposure_stride;                                      \
            for (int i = 0; i < count; ++i) {                                                                  \
                if (total[i] >= min_weight) {                                                                  \
                    const T log_e = numerator[i] / total[i], inverse = 1 / total[i];                           \
                    out[i] = log_e;                                                                            \
                    for (int j = 0; item_factor && j < exposures; ++j) {                                       \
                        T *f = item_factor + j * factor_exposure_stride + i;                                   \
                        if (values) {                                                                          \
                            const T v = item_x[j * exposure_stride + i];                                       \
                            const T hat_slope = v < (T)0.5 ? 2 : (v > (T)0.5 ? -2 : 0);                        \
                            *f += hat_slope * (values[j * BLOCK + i] - log_e);                                 \
                        }                                                                                      \
                        *f *= inverse;                                                                         \
                    }                                                                                          \
                    continue;                                                                                  \
                }                                                                                              \
                const int64_t j = middle[i] > (T)0.5 ? shortest[item] : longest[item];                         \
                const T v = item_x[j * exposure_stride + i];                                                   \
                const int k = NAME##_segment(v, levels) + row[i];                                              \
                const T slope = item_slopes[k];                                                                \
                out[i] = offsets[(item * exposures + j) * channels * levels + k] + v * slope;                  \
                for (int jj = 0; item_factor && jj < exposures; ++jj)                                          \
                    item_factor[jj * factor_exposure_stride + i] = jj == j ? slope : 0;                        \
            }                                                                                                  \
            start += count;                                                                                    \
        }                                                                                                      \
        free(layout.cycle);                                                                                    \
        free(values);                                                                                          \
        return 0;                                                                                              \
    }                                                                                                          \
    PARALLEL_KERNEL(NAME, NAME##_range, items * pixels * channels,                                             \
                    (const T *x, int64_t items, int64_t item_stride, int64_t exposure_stride, int exposures,   \
                     int channels, int64_t pixels, int channel_last, int threads, const T *offsets,            \
                     const T *slopes, int levels, const int64_t *shortest, const int64_t *longest,             \
                     T min_weight, int detach_weights, T *merged, T *factor, int64_t factor_item_stride,       \
                     int64_t factor_exposure_stride),                                                          \
                    (x, item_stride, exposure_stride, exposures, channels, pixels, channel_last, begin, end,   \
                     offsets, slopes, levels, shortest, longest, min_weight, detach_weights, merged, factor,   \
                     factor_item_stride, factor_exposure_stride))

DEFINE_MERGE(hdrsyn_merge_float32, float, fabsf)
DEFINE_MERGE(hdrsyn_merge_float64, double, fabs)

/* Merge of 8-bit levels through knot tables (ops.merge._knot_tables): v = values[b, j, c, level],
 * w = weights[b, c, level]; the same fallback (middle level above 127). No gradient. */
static int merge_uint8_range(const uint8_t *x, int64_t item_stride, int64_t exposure_stride, int exposures,
                             int channels, int64_t pixels, int channel_last, int64_t begin, int64_t end,
                             const float *values, const float *weights, const int64_t *shortest,
                             const int64_t *longest, float min_weight, float *merged) {
    const int levels = 256;
    Layout layout;
    if (layout_init(&layout, channels, pixels, channel_last, levels)) return 1;
    float numerator[BLOCK], total[BLOCK];
    for (int64_t start = begin; start < end;) {
        int64_t item, first;
        const int *row;
        const int count = next_block(&layout, start, end, &item, &first, &row);
        const uint8_t *item_x = x + item * item_stride + first;
        const float *item_weights = weights + item * channels * levels;
        for (int i = 0; i < count; ++i) numerator[i] = total[i] = 0;
        for (int j = 0; j < exposures; ++j) {
            const uint8_t *xj = item_x + j * exposure_stride;
            const float *table = values + (item * exposures + j) * channels * levels;
            for (int i = 0; i < count; ++i) {
                const int k = xj[i] + row[i];
                numerator[i] += item_weights[k] * table[k];
                total[i] += item_weights[k];
            }
        }
        float *out = merged + item * layout.plane + first;
        const uint8_t *middle = item_x + (exposures / 2) * exposure_stride;
        for (int i = 0; i < count; ++i) {
            if (total[i] >= min_weight) {
                out[i] = numerator[i] / total[i];
                continue;
            }
            const int64_t j = middle[i] > 127 ? shortest[item] : longest[item];
            out[i] = values[(item * exposures + j) * channels * levels + item_x[j * exposure_stride + i] + row[i]];
        }
        start += count;
    }
    free(layout.cycle);
    return 0;
}

PARALLEL_KERNEL(hdrsyn_merge_uint8, merge_uint8_range, items * pixels * channels,
                (const uint8_t *x, int64_t items, int64_t item_stride, int64_t exposure_stride, int exposures,
                 int channels, int64_t pixels, int channel_last, int threads, const float *values,
                 const float *weights, const int64_t *shortest, const int64_t *longest, float min_weight,
                 float *merged),
                (x, item_stride, exposure_stride, exposures, channels, pixels, channel_last, begin, end, values,
                 weights, shortest, longest, min_weight, merged))

/* round_half_even(scaled) clamped to [0, levels - 1]: 2**23 + scaled rounded once to float32 (spacing 1 there). */
static inline int rounded_level(double scaled, int levels) {
    const float shifted = (float)(8388608.0 + scaled);
    int32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    bits -= 0x4B000000;
    return bits < 0 ? 0 : (bits > levels - 1 ? levels - 1 : bits);
}

/* A float32 value times (L - 1) is exact in float64, so this rounds the exact product. */
static inline int level_float32(float v, int levels) { return rounded_level((double)v * (levels - 1), levels); }
static inline int level_float64(double v, int levels) { return rounded_level(v * (levels - 1), levels); }
static inline int level_uint8(uint8_t v, int levels) {
    (void)levels;
    return v;
}

/* Level histograms (ops.crf.level_histograms): counts[(b N + j) C + c][round_half_even((L - 1) x)], the level
 * clamped to [0, L - 1], for the elements begin..end of the B N planes taken one after another (counts
 * starts at zero). Element i is counted in copy i % COPIES of a thread's histogram, so runs of equal
 * neighbours (smooth images) do not wait on one counter; the copies are added to counts when the thread
 * is done with a plane. */
#define COPIES 4
#define DEFINE_HISTOGRAM(NAME, T, LEVEL)                                                                         \
    static int NAME##_range(const T *x, int64_t item_stride, int64_t exposure_stride, int exposures,           \
                            int channels, int64_t pixels, int channel_last, int64_t begin, int64_t end,         \
                            int levels, int64_t *counts) {                                                      \
        Layout layout;                                                                                          \
        const int bins = channels * levels;                                                                     \
        int64_t *copies = calloc((size_t)COPIES * bins, sizeof(int64_t));                                       \
        if (layout_init(&layout, channels, pixels, channel_last, levels) || !copies) {                          \
            free(layout.cycle);                                                                                 \
            free(copies);                                                                                       \
            return 1;                                                                                           \
        }                                                                                                       \
        int index[BLOCK];                                                                                       \
        for (int64_t start = begin; start < end;) {                                                             \
            int64_t image, first;                                                                               \
            const int *row;                                                                                     \
            const int count = next_block(&layout, start, end, &image, &first, &row);                            \
            const T *xi = x + (image / exposures) * item_stride + (image % exposures) * exposure_stride + first; \
            for (int i = 0; i < count; ++i) /* vectorisable */                                                  \
                index[i] = (i % COPIES) * bins + row[i] + LEVEL(xi[i], levels);                                 \
            for (int i = 0; i < count; ++i) ++copies[index[i]];                                                 \
            start += count;                                                                                     \
            if (start == end || first + count == layout.plane) { /* the plane's last block here */              \
                for (int k = 0; k < COPIES * bins; ++k) {                                                       \
                    _Pragma("omp atomic") counts[image * bins + k % bins] += copies[k];                         \
                }                                                                                               \
                memset(copies, 0, sizeof(int64_t) * COPIES * bins);                                             \
            }                                                                                                   \
        }                                                                                                       \
        free(layout.cycle);                                                                                     \
        free(copies);                                                                                           \
        return 0;                                                                                               \
    }                                                                                                           \
    PARALLEL_KERNEL(NAME, NAME##_range, items * exposures * pixels * channels,                                  \
                    (const T *x, int64_t items, int64_t item_stride, int64_t exposure_stride, int exposures,    \
                     int channels, int64_t pixels, int channel_last, int threads, int levels, int64_t *counts), \
                    (x, item_stride, exposure_stride, exposures, channels, pixels, channel_last, begin, end,    \
                     levels, counts))

DEFINE_HISTOGRAM(hdrsyn_histogram_float32, float, level_float32)
DEFINE_HISTOGRAM(hdrsyn_histogram_float64, double, level_float64)
DEFINE_HISTOGRAM(hdrsyn_histogram_uint8, uint8_t, level_uint8)
