// C side of synmix's image codecs. libpng and libjpeg report errors by
// longjmp; Swift frames must never be crossed by one, so every libpng/libjpeg
// call happens inside these functions, each with its own setjmp. They return
// 0 on success and -1 with a message in `error` otherwise.
#ifndef SYNMIX_IMAGE_H
#define SYNMIX_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define SYNMIX_ERROR_SIZE 256

/// Keep palette indices instead of expanding them to RGB(A) (label PNGs).
#define SYNMIX_PNG_PALETTE_INDICES 1u
/// Scale 16-bit samples down to 8 bits.
#define SYNMIX_PNG_TO_8BIT 2u
/// Drop an alpha channel (and tRNS transparency).
#define SYNMIX_PNG_STRIP_ALPHA 4u
/// Always decode with libpng (the direct libdeflate path is skipped): for
/// benchmark floors and for tests that compare the two paths.
#define SYNMIX_PNG_LIBPNG_ONLY 8u

typedef struct {
    uint32_t width;
    uint32_t height;
    int bit_depth;    // bits per sample of the decoded output: 8 or 16
    int channels;     // samples per pixel of the decoded output: 1..4
    int color_type;   // PNG colour type of the file (0 gray, 2 RGB, 3 palette, 4 GA, 6 RGBA)
    int file_bit_depth;
} synmix_png_info;

/// Reads the header and says what `synmix_png_decode` with the same flags will produce.
int synmix_png_info_read(const uint8_t *data, size_t size, unsigned flags,
                         synmix_png_info *info, char error[SYNMIX_ERROR_SIZE]);

/// Decodes into `out` (row-major, interleaved, 16-bit samples in host order);
/// `out_size` must be width * height * channels * bit_depth / 8.
/// Plain non-interlaced 8/16-bit gray, gray+alpha, RGB and RGBA files that need
/// no transform (label PNGs above all) are decoded directly: chunk CRCs checked,
/// IDAT inflated with libdeflate (about twice zlib's speed), rows unfiltered
/// here. Everything else goes through libpng.
int synmix_png_decode(const uint8_t *data, size_t size, unsigned flags,
                      uint8_t *out, size_t out_size, char error[SYNMIX_ERROR_SIZE]);

/// Filters for synmix_png_encode.
#define SYNMIX_PNG_FILTER_ADAPTIVE 0
#define SYNMIX_PNG_FILTER_NONE 1
#define SYNMIX_PNG_FILTER_SUB 2

/// Encodes `pixels` (host-order 16-bit samples when bit_depth is 16) as a PNG
/// with 1 (gray), 3 (RGB) or 4 (RGBA) channels. `*out` is malloc'ed; the
/// caller frees it with synmix_free.
int synmix_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height,
                      int channels, int bit_depth, int zlib_level, int filter,
                      uint8_t **out, size_t *out_size, char error[SYNMIX_ERROR_SIZE]);

/// Reads a JPEG's size and channel count (1 gray, 3 RGB output).
int synmix_jpeg_info_read(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height,
                          int *channels, char error[SYNMIX_ERROR_SIZE]);

/// Decodes into `out` (width * height * channels bytes). A truncated file is an
/// error, not a gray-filled image.
int synmix_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                       char error[SYNMIX_ERROR_SIZE]);

/// Encodes 8-bit gray (channels 1) or RGB (channels 3) pixels; `*out` is
/// malloc'ed, free it with synmix_free.
int synmix_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                       int quality, uint8_t **out, size_t *out_size, char error[SYNMIX_ERROR_SIZE]);

void synmix_free(void *pointer);

/// Keeps freed memory in the process heap (glibc: no trimming, no per-block
/// mmap below 256 MiB), so that a loop over equally sized images does not
/// page-fault its buffers in anew each time. Used by benchmark floors.
void synmix_keep_freed_memory(void);

#endif
