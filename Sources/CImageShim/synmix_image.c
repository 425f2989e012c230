#include "synmix_image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include <libdeflate.h>
#include <malloc.h>

// ---------------------------------------------------------------- PNG ----

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} png_source;

typedef struct {
    jmp_buf jump;
    char *error;
} png_failure;

static void png_fail(png_structp png, png_const_charp message) {
    png_failure *failure = (png_failure *)png_get_error_ptr(png);
    snprintf(failure->error, SYNMIX_ERROR_SIZE, "%s", message);
    longjmp(failure->jump, 1);
}

static void png_warn(png_structp png, png_const_charp message) {
    (void)png; (void)message;   // warnings (e.g. unknown chunks) are not errors
}

static void png_read_memory(png_structp png, png_bytep out, png_size_t count) {
    png_source *source = (png_source *)png_get_io_ptr(png);
    if (source->size - source->offset < count) {
        png_error(png, "read beyond end of data (truncated file)");
    }
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

// Applies the transforms the flags ask for and reports the resulting layout.
static void png_configure(png_structp png, png_infop info, unsigned flags, synmix_png_info *out) {
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    out->width = width;
    out->height = height;
    out->color_type = color_type;
    out->file_bit_depth = bit_depth;

    int channels;
    int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    int strip_alpha = (flags & SYNMIX_PNG_STRIP_ALPHA) != 0;
    switch (color_type) {
    case PNG_COLOR_TYPE_PALETTE:
        if (flags & SYNMIX_PNG_PALETTE_INDICES) {
            png_set_packing(png);   // 1/2/4-bit indices to one byte each
            channels = 1;
        } else {
            png_set_palette_to_rgb(png);
            if (has_trns && !strip_alpha) { png_set_tRNS_to_alpha(png); channels = 4; }
            else channels = 3;
        }
        bit_depth = 8;
        break;
    case PNG_COLOR_TYPE_GRAY:
        if (bit_depth < 8) { png_set_expand_gray_1_2_4_to_8(png); bit_depth = 8; }
        channels = 1;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        channels = strip_alpha ? 1 : 2;
        if (strip_alpha) png_set_strip_alpha(png);
        break;
    case PNG_COLOR_TYPE_RGB:
        channels = 3;
        break;
    default: /* PNG_COLOR_TYPE_RGB_ALPHA */
        channels = strip_alpha ? 3 : 4;
        if (strip_alpha) png_set_strip_alpha(png);
        break;
    }
    if (bit_depth == 16) {
        if (flags & SYNMIX_PNG_TO_8BIT) { png_set_scale_16(png); bit_depth = 8; }
        else png_set_swap(png);   // PNG stores big-endian; hand out host order (little-endian here)
    }
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    // No gamma calls: sample values (label ids above all) must come back exactly as stored.
    png_read_update_info(png, info);
    out->bit_depth = bit_depth;
    out->channels = channels;
}

static int png_begin(png_structp *png, png_infop *info, png_failure *failure, png_source *source) {
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, failure, png_fail, png_warn);
    if (!*png) { snprintf(failure->error, SYNMIX_ERROR_SIZE, "out of memory"); return -1; }
    *info = png_create_info_struct(*png);
    if (!*info) {
        png_destroy_read_struct(png, NULL, NULL);
        snprintf(failure->error, SYNMIX_ERROR_SIZE, "out of memory");
        return -1;
    }
    png_set_read_fn(*png, source, png_read_memory);
    // Label PNGs are large and trusted for size by our own pixel budget, not libpng's default limits.
    png_set_user_limits(*png, 0x7fffffffL, 0x7fffffffL);
    return 0;
}

int synmix_png_info_read(const uint8_t *data, size_t size, unsigned flags,
                         synmix_png_info *result, char error[SYNMIX_ERROR_SIZE]) {
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, SYNMIX_ERROR_SIZE, "not a PNG file (bad signature)");
        return -1;
    }
    png_failure failure = { .error = error };
    png_source source = { data, size, 0 };
    png_structp png; png_infop info;
    if (png_begin(&png, &info, &failure, &source) != 0) return -1;
    if (setjmp(failure.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_read_info(png, info);
    png_configure(png, info, flags, result);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

// ------------------------------------------------- PNG, direct path ----

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

typedef uint8_t bytes16 __attribute__((vector_size(16)));

// Reverses the PNG row filters of `filtered` (height rows of 1 + rowbytes) into `out`.
// Each filter has its own loop with the first row and the first pixel hoisted
// out, so that Up vectorises and Paeth runs without branches.
static int png_unfilter(const uint8_t *filtered, uint8_t *out, size_t rowbytes, uint32_t height, size_t bpp,
                        char error[SYNMIX_ERROR_SIZE]) {
    uint8_t *zeros = calloc(rowbytes ? rowbytes : 1, 1);   // the row "above" the first one
    if (!zeros) {
        snprintf(error, SYNMIX_ERROR_SIZE, "out of memory");
        return -1;
    }
    for (uint32_t y = 0; y < height; y++) {
        const uint8_t *restrict src = filtered + (size_t)y * (rowbytes + 1);
        uint8_t filter = *src++;
        uint8_t *restrict row = out + (size_t)y * rowbytes;
        const uint8_t *restrict up = y > 0 ? row - rowbytes : zeros;
        size_t first = bpp < rowbytes ? bpp : rowbytes, i;
        switch (filter) {
        case 0:
            memcpy(row, src, rowbytes);
            break;
        case 1:
            for (i = 0; i < first; i++) row[i] = src[i];
            for (; i < rowbytes; i++) row[i] = src[i] + row[i - bpp];
            break;
        case 2:   // the most common filter in label PNGs: 16 bytes at a time
            for (i = 0; i + 16 <= rowbytes; i += 16) {
                bytes16 sum, above;
                memcpy(&sum, src + i, 16);
                memcpy(&above, up + i, 16);
                sum += above;
                memcpy(row + i, &sum, 16);
            }
            for (; i < rowbytes; i++) row[i] = src[i] + up[i];
            break;
        case 3:
            for (i = 0; i < first; i++) row[i] = src[i] + (up[i] >> 1);
            for (; i < rowbytes; i++) row[i] = src[i] + (uint8_t)(((unsigned)row[i - bpp] + up[i]) >> 1);
            break;
        case 4:
            for (i = 0; i < first; i++) row[i] = src[i] + up[i];   // Paeth(0, b, 0) = b
            if (bpp == 2) {
                // 16-bit gray (instance ids): keep both byte lanes' left and
                // upper-left values in registers instead of re-reading the row.
                int a0 = row[0], a1 = row[1], c0 = up[0], c1 = up[1];
                for (; i + 1 < rowbytes; i += 2) {
                    int b0 = up[i], b1 = up[i + 1];
                    int pa0 = abs(b0 - c0), pb0 = abs(a0 - c0), pc0 = abs(a0 + b0 - 2 * c0);
                    int pa1 = abs(b1 - c1), pb1 = abs(a1 - c1), pc1 = abs(a1 + b1 - 2 * c1);
                    a0 = (uint8_t)(src[i] + ((pa0 <= pb0 && pa0 <= pc0) ? a0 : (pb0 <= pc0 ? b0 : c0)));
                    a1 = (uint8_t)(src[i + 1] + ((pa1 <= pb1 && pa1 <= pc1) ? a1 : (pb1 <= pc1 ? b1 : c1)));
                    row[i] = (uint8_t)a0;
                    row[i + 1] = (uint8_t)a1;
                    c0 = b0;
                    c1 = b1;
                }
            }
            for (; i < rowbytes; i++) {
                int a = row[i - bpp], b = up[i], c = up[i - bpp];
                int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
                int predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
                row[i] = src[i] + (uint8_t)predictor;
            }
            break;
        default:
            snprintf(error, SYNMIX_ERROR_SIZE, "bad adaptive filter value %u in row %u", filter, y);
            free(zeros);
            return -1;
        }
    }
    free(zeros);
    return 0;
}

// The inflated, still filtered rows: one buffer per thread, kept between calls
// (a fresh multi-megabyte malloc per image costs page faults comparable to
// the decoding itself). It grows to the largest image a thread has decoded.
static _Thread_local uint8_t *scratch;
static _Thread_local size_t scratch_capacity;

static uint8_t *scratch_buffer(size_t size) {
    if (size > scratch_capacity) {
        free(scratch);
        scratch = malloc(size);
        scratch_capacity = scratch ? size : 0;
    }
    return scratch;
}

// Returns 1 and sets *rc when the file is one the direct path decodes, 0 to
// hand it to libpng (which then also reports any error in it).
static int png_decode_direct(const uint8_t *data, size_t size, unsigned flags, uint8_t *out, size_t out_size,
                             char error[SYNMIX_ERROR_SIZE], int *rc) {
    if (flags & SYNMIX_PNG_LIBPNG_ONLY) return 0;
    if (size < 33 || memcmp(data + 12, "IHDR", 4) != 0 || read_be32(data + 8) != 13) return 0;
    uint32_t width = read_be32(data + 16), height = read_be32(data + 20);
    int depth = data[24], color = data[25], interlace = data[28];
    if ((flags & SYNMIX_PNG_TO_8BIT) && depth == 16) return 0;   // scaling 16 to 8 bits: libpng's job
    int channels = color == 0 ? 1 : color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 0;
    if (channels == 0 || (depth != 8 && depth != 16) || interlace != 0 || data[26] != 0 || data[27] != 0) return 0;
    if ((flags & SYNMIX_PNG_STRIP_ALPHA) && (color == 4 || color == 6)) return 0;

    *rc = -1;
    size_t rowbytes = (size_t)width * channels * (depth / 8);
    if (rowbytes * height != out_size) {
        snprintf(error, SYNMIX_ERROR_SIZE, "decoded layout does not match the buffer");
        return 1;
    }
    // Walk the chunks: check every CRC, find the IDAT bytes, require IEND.
    size_t idat_total = 0, idat_chunks = 0, first_idat = 0, pos = 8;
    int ended = 0, has_trns = 0;
    while (!ended) {
        if (size - pos < 12) {
            snprintf(error, SYNMIX_ERROR_SIZE, "truncated file: no IEND chunk");
            return 1;
        }
        uint32_t length = read_be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (length > size - pos - 12) {
            snprintf(error, SYNMIX_ERROR_SIZE, "truncated file: chunk %.4s runs past the end", (const char *)type);
            return 1;
        }
        if (libdeflate_crc32(0, type, (size_t)length + 4) != read_be32(data + pos + 8 + length)) {
            snprintf(error, SYNMIX_ERROR_SIZE, "CRC error in chunk %.4s", (const char *)type);
            return 1;
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            if (idat_chunks++ == 0) first_idat = pos;
            idat_total += length;
        } else if (memcmp(type, "IEND", 4) == 0) {
            ended = 1;
        } else if (memcmp(type, "tRNS", 4) == 0) {
            has_trns = 1;
        } else if (!(type[0] & 0x20) && memcmp(type, "IHDR", 4) != 0 && memcmp(type, "PLTE", 4) != 0) {
            snprintf(error, SYNMIX_ERROR_SIZE, "unknown critical chunk %.4s", (const char *)type);
            return 1;
        }
        pos += (size_t)length + 12;
    }
    if (has_trns) { *rc = 0; return 0; }   // colour-key transparency: libpng's job
    if (idat_chunks == 0) {
        snprintf(error, SYNMIX_ERROR_SIZE, "no image data (IDAT)");
        return 1;
    }
    // Gather the compressed stream (one IDAT: use it in place).
    uint8_t *gathered = NULL;
    const uint8_t *stream = data + first_idat + 8;
    if (idat_chunks > 1) {
        gathered = malloc(idat_total ? idat_total : 1);
        if (!gathered) { snprintf(error, SYNMIX_ERROR_SIZE, "out of memory"); return 1; }
        size_t filled = 0;
        for (pos = first_idat; filled < idat_total; ) {
            uint32_t length = read_be32(data + pos);
            if (memcmp(data + pos + 4, "IDAT", 4) == 0) {
                memcpy(gathered + filled, data + pos + 8, length);
                filled += length;
            }
            pos += (size_t)length + 12;
        }
        stream = gathered;
    }
    size_t filtered_size = ((size_t)rowbytes + 1) * height;
    uint8_t *filtered = scratch_buffer(filtered_size);
    struct libdeflate_decompressor *inflater = libdeflate_alloc_decompressor();
    if (!filtered || !inflater) {
        snprintf(error, SYNMIX_ERROR_SIZE, "out of memory");
    } else {
        enum libdeflate_result result = libdeflate_zlib_decompress(inflater, stream, idat_total, filtered, filtered_size, NULL);
        if (result == LIBDEFLATE_SUCCESS) {
            *rc = png_unfilter(filtered, out, rowbytes, height, (size_t)channels * (depth / 8), error);
            if (*rc == 0 && depth == 16) {   // PNG is big-endian; hand out host order
                uint16_t *samples = (uint16_t *)out;
                for (size_t i = 0; i < out_size / 2; i++) samples[i] = __builtin_bswap16(samples[i]);
            }
        } else {
            snprintf(error, SYNMIX_ERROR_SIZE, result == LIBDEFLATE_SHORT_OUTPUT ? "not enough image data"
                     : result == LIBDEFLATE_INSUFFICIENT_SPACE ? "too much image data" : "corrupt compressed image data");
        }
    }
    libdeflate_free_decompressor(inflater);
    free(gathered);
    return 1;
}

int synmix_png_decode(const uint8_t *data, size_t size, unsigned flags,
                      uint8_t *out, size_t out_size, char error[SYNMIX_ERROR_SIZE]) {
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, SYNMIX_ERROR_SIZE, "not a PNG file (bad signature)");
        return -1;
    }
    int direct_rc;
    if (png_decode_direct(data, size, flags, out, out_size, error, &direct_rc)) return direct_rc;
    png_failure failure = { .error = error };
    png_source source = { data, size, 0 };
    png_structp png; png_infop info;
    png_bytep *rows = NULL;
    if (png_begin(&png, &info, &failure, &source) != 0) return -1;
    if (setjmp(failure.jump)) {
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_read_info(png, info);
    synmix_png_info layout;
    png_configure(png, info, flags, &layout);
    size_t stride = (size_t)layout.width * layout.channels * (layout.bit_depth / 8);
    if (png_get_rowbytes(png, info) != stride || stride * layout.height != out_size) {
        png_error(png, "decoded layout does not match the buffer");
    }
    rows = malloc(sizeof(png_bytep) * (layout.height ? layout.height : 1));
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < layout.height; y++) rows[y] = out + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);   // checks the remaining chunks' CRCs: a damaged tail is an error too
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} png_sink;

static void png_write_memory(png_structp png, png_bytep bytes, png_size_t count) {
    png_sink *sink = (png_sink *)png_get_io_ptr(png);
    if (sink->size + count > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 65536;
        while (capacity < sink->size + count) capacity *= 2;
        uint8_t *grown = realloc(sink->data, capacity);
        if (!grown) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->size, bytes, count);
    sink->size += count;
}

static void png_flush_memory(png_structp png) { (void)png; }

int synmix_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height,
                      int channels, int bit_depth, int zlib_level, int filter,
                      uint8_t **out, size_t *out_size, char error[SYNMIX_ERROR_SIZE]) {
    int color_type;
    switch (channels) {
    case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
    case 3: color_type = PNG_COLOR_TYPE_RGB; break;
    case 4: color_type = PNG_COLOR_TYPE_RGB_ALPHA; break;
    default:
        snprintf(error, SYNMIX_ERROR_SIZE, "cannot encode %d channels", channels);
        return -1;
    }
    if (bit_depth != 8 && bit_depth != 16) {
        snprintf(error, SYNMIX_ERROR_SIZE, "cannot encode bit depth %d", bit_depth);
        return -1;
    }
    png_failure failure = { .error = error };
    png_sink sink = { NULL, 0, 0 };
    png_bytep *rows = NULL;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail, png_warn);
    if (!png) { snprintf(error, SYNMIX_ERROR_SIZE, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(error, SYNMIX_ERROR_SIZE, "out of memory");
        return -1;
    }
    if (setjmp(failure.jump)) {
        free(rows);
        free(sink.data);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, &sink, png_write_memory, png_flush_memory);
    png_set_compression_level(png, zlib_level);
    switch (filter) {
    case SYNMIX_PNG_FILTER_NONE: png_set_filter(png, 0, PNG_FILTER_NONE); break;
    case SYNMIX_PNG_FILTER_SUB: png_set_filter(png, 0, PNG_FILTER_SUB); break;
    default: break;   // libpng's adaptive choice
    }
    png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16) png_set_swap(png);   // host order in, big-endian on disk
    size_t stride = (size_t)width * channels * (bit_depth / 8);
    rows = malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)(pixels + (size_t)y * stride);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
    *out = sink.data;
    *out_size = sink.size;
    return 0;
}

// --------------------------------------------------------------- JPEG ----

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *error;
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_failure *failure = (jpeg_failure *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    snprintf(failure->error, SYNMIX_ERROR_SIZE, "%s", message);
    longjmp(failure->jump, 1);
}

// libjpeg only warns about a truncated file and fills the rest with gray;
// a training sample like that is damaged, so it is an error here.
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

static void jpeg_silence(j_common_ptr cinfo) { (void)cinfo; }

static struct jpeg_error_mgr *jpeg_install_errors(jpeg_failure *failure, char *error) {
    jpeg_std_error(&failure->base);
    failure->base.error_exit = jpeg_fail;
    failure->base.emit_message = jpeg_message;
    failure->base.output_message = jpeg_silence;
    failure->error = error;
    return &failure->base;
}

/* Reads the header (and, when `out` is not NULL, every scanline into `out`, which must
   hold exactly width × height × channels bytes): one setjmp frame for both uses. */
static int jpeg_read(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height, int *channels,
                     uint8_t *out, size_t out_size, char error[SYNMIX_ERROR_SIZE]) {
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    cinfo.err = jpeg_install_errors(&failure, error);
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_calc_output_dimensions(&cinfo);
    *width = cinfo.output_width;
    *height = cinfo.output_height;
    *channels = cinfo.out_color_components;
    if (out == NULL) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    if (stride * cinfo.output_height != out_size) {
        snprintf(error, SYNMIX_ERROR_SIZE, "decoded layout does not match the buffer");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int synmix_jpeg_info_read(const uint8_t *data, size_t size, uint32_t *width, uint32_t *height,
                          int *channels, char error[SYNMIX_ERROR_SIZE]) {
    return jpeg_read(data, size, width, height, channels, NULL, 0, error);
}

int synmix_jpeg_decode(const uint8_t *data, size_t size, uint8_t *out, size_t out_size,
                       char error[SYNMIX_ERROR_SIZE]) {
    uint32_t width, height;
    int channels;
    return jpeg_read(data, size, &width, &height, &channels, out, out_size, error);
}

int synmix_jpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                       int quality, uint8_t **out, size_t *out_size, char error[SYNMIX_ERROR_SIZE]) {
    if (channels != 1 && channels != 3) {
        snprintf(error, SYNMIX_ERROR_SIZE, "JPEG takes 1 or 3 channels, not %d", channels);
        return -1;
    }
    struct jpeg_compress_struct cinfo;
    jpeg_failure failure;
    unsigned char *buffer = NULL;
    unsigned long buffer_size = 0;
    cinfo.err = jpeg_install_errors(&failure, error);
    if (setjmp(failure.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &buffer_size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = buffer_size;
    return 0;
}

void synmix_free(void *pointer) { free(pointer); }

void synmix_keep_freed_memory(void) {
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
}
