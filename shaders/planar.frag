#version 450
// Samples a linear dma-buf straight from its memory (rungs SampleLinear and StageOnCpu): the planes
// are storage buffers, addressed with the client's byte offsets and strides, decoded per format and
// filtered bilinearly by hand. Output is premultiplied RGBA (linux-dmabuf alpha is premultiplied).
//
// Why storage buffers and not texel buffers: a texel-buffer view has one format and an offset
// aligned to minTexelBufferOffsetAlignment, while clients send any offset and stride, 24/32-bit and
// 10-bit packed formats, and 2-3 planes at independent offsets in one or several fds. Reading 32-bit
// words and unpacking here handles every layout with one shader and zero copies.
//
// Y′CbCr → RGB: BT.601 or BT.709 coefficients (Kr, Kb), limited ("narrow", 16..235/240 scaled to the
// bit depth) or full range. The default when nothing says otherwise is BT.601 limited range, the
// EGL_EXT_image_dma_buf_import default (EGL_ITU_REC601_EXT, EGL_YUV_NARROW_RANGE_EXT) that clients
// and other compositors assume. Chroma is taken from the co-sited sample (nearest), as 4:2:0
// decoders' default "left" siting places it; 4:2:2 and 4:4:4 likewise.
layout(push_constant) uniform Planar {
    vec4 dst;
    vec4 src;
    uvec4 offsets; // byte offset of planes 0..2 in their buffers
    uvec4 strides; // byte stride of planes 0..2
    ivec4 info;    // x: format (see FMT_*), y: width, z: height, w: 1 = ignore alpha (X* formats)
    vec4 yuv;      // x: Kr, y: Kb, z: 1 = full range, w: surface opacity
    ivec4 orient;  // read by planar.vert
} pc;

layout(set = 0, binding = 0) readonly buffer Plane0 { uint words[]; } plane0;
layout(set = 0, binding = 1) readonly buffer Plane1 { uint words[]; } plane1;
layout(set = 0, binding = 2) readonly buffer Plane2 { uint words[]; } plane2;

layout(location = 0) in vec2 texel;
layout(location = 0) out vec4 frag;

const int FMT_XRGB8888 = 0;    // AR24/XR24: bytes B, G, R, A
const int FMT_XBGR8888 = 1;    // AB24/XB24: bytes R, G, B, A
const int FMT_XRGB2101010 = 2; // AR30/XR30: u32 A:2 R:10 G:10 B:10
const int FMT_NV12 = 3;
const int FMT_P010 = 4;
const int FMT_YUV420 = 5;
// Packed 4:2:2, two pixels in four bytes, in the order their names spell.
const int FMT_YUYV = 6;
const int FMT_YVYU = 7;
const int FMT_UYVY = 8;
const int FMT_VYUY = 9;
// Semi-planar: luma, then chroma pairs (NV21/NV61/NV42: Cr first); 4:2:0, 4:2:2, 4:4:4.
const int FMT_NV21 = 10;
const int FMT_NV16 = 11;
const int FMT_NV61 = 12;
const int FMT_NV24 = 13;
const int FMT_NV42 = 14;
// Planar: luma, then two chroma planes (YVU420: Cr first).
const int FMT_YVU420 = 15;
const int FMT_YUV422 = 16;
const int FMT_YUV444 = 17;

uint word(int plane, uint index) {
    // Clamped to the buffer: the guard bounds-checks every plane, so this only guards the last
    // partial word of a dma-buf whose size is not a multiple of 4.
    if (plane == 0) return plane0.words[min(index, uint(plane0.words.length()) - 1u)];
    if (plane == 1) return plane1.words[min(index, uint(plane1.words.length()) - 1u)];
    return plane2.words[min(index, uint(plane2.words.length()) - 1u)];
}

uint u8at(int plane, uint byte_offset) {
    return (word(plane, byte_offset >> 2) >> ((byte_offset & 3u) * 8u)) & 0xffu;
}

uint u16at(int plane, uint byte_offset) {
    if ((byte_offset & 1u) == 0u) {
        return (word(plane, byte_offset >> 2) >> ((byte_offset & 2u) * 8u)) & 0xffffu;
    }
    return u8at(plane, byte_offset) | (u8at(plane, byte_offset + 1u) << 8);
}

uint u32at(int plane, uint byte_offset) {
    if ((byte_offset & 3u) == 0u) {
        return word(plane, byte_offset >> 2);
    }
    return u8at(plane, byte_offset) | (u8at(plane, byte_offset + 1u) << 8) | (u8at(plane, byte_offset + 2u) << 16)
        | (u8at(plane, byte_offset + 3u) << 24);
}

vec3 yuv_to_rgb(float y, float u, float v, float bits) {
    float s = exp2(bits - 8.0);
    float maxv = exp2(bits) - 1.0;
    float l, cb, cr;
    if (pc.yuv.z > 0.5) {
        l = y / maxv;
        cb = (u - 128.0 * s) / maxv;
        cr = (v - 128.0 * s) / maxv;
    } else {
        l = (y - 16.0 * s) / (219.0 * s);
        cb = (u - 128.0 * s) / (224.0 * s);
        cr = (v - 128.0 * s) / (224.0 * s);
    }
    float kr = pc.yuv.x;
    float kb = pc.yuv.y;
    float kg = 1.0 - kr - kb;
    float r = l + 2.0 * (1.0 - kr) * cr;
    float b = l + 2.0 * (1.0 - kb) * cb;
    float g = (l - kr * r - kb * b) / kg;
    return clamp(vec3(r, g, b), 0.0, 1.0);
}

vec4 fetch(ivec2 p) {
    // Clamp to the source rectangle (and the buffer), so a viewport crop never bleeds the texels
    // around it into its edges through the bilinear filter.
    ivec2 lo = ivec2(floor(min(pc.src.xy, pc.src.zw)));
    ivec2 hi = ivec2(ceil(max(pc.src.xy, pc.src.zw))) - 1;
    lo = clamp(lo, ivec2(0), ivec2(pc.info.y, pc.info.z) - 1);
    hi = clamp(hi, lo, ivec2(pc.info.y, pc.info.z) - 1);
    uint x = uint(clamp(p.x, lo.x, hi.x));
    uint y = uint(clamp(p.y, lo.y, hi.y));
    int fmt = pc.info.x;
    uint row0 = pc.offsets.x + y * pc.strides.x;
    if (fmt == FMT_XRGB8888 || fmt == FMT_XBGR8888) {
        uint v = u32at(0, row0 + x * 4u);
        vec4 c = vec4(float(v & 0xffu), float((v >> 8) & 0xffu), float((v >> 16) & 0xffu), float(v >> 24)) / 255.0;
        return fmt == FMT_XRGB8888 ? c.bgra : c;
    }
    if (fmt == FMT_XRGB2101010) {
        uint v = u32at(0, row0 + x * 4u);
        return vec4(float((v >> 20) & 0x3ffu) / 1023.0, float((v >> 10) & 0x3ffu) / 1023.0, float(v & 0x3ffu) / 1023.0,
                    float(v >> 30) / 3.0);
    }
    if (fmt >= FMT_YUYV && fmt <= FMT_VYUY) {
        // Byte positions of (Y0, Cb, Y1, Cr) in each four-byte group of two pixels; 4:2:2 chroma is
        // subsampled horizontally only, and taken from the pair's one sample.
        uvec4 pos = fmt == FMT_YUYV ? uvec4(0u, 1u, 2u, 3u)
                  : fmt == FMT_YVYU ? uvec4(0u, 3u, 2u, 1u)
                  : fmt == FMT_UYVY ? uvec4(1u, 0u, 3u, 2u)
                  :                   uvec4(1u, 2u, 3u, 0u);
        uint g = row0 + (x / 2u) * 4u;
        uint l = u8at(0, g + ((x & 1u) == 0u ? pos.x : pos.z));
        return vec4(yuv_to_rgb(float(l), float(u8at(0, g + pos.y)), float(u8at(0, g + pos.w)), 8.0), 1.0);
    }
    if (fmt == FMT_P010) {
        // 10 significant bits in the high bits of each 16-bit little-endian container.
        uint c = pc.offsets.y + (y / 2u) * pc.strides.y + (x / 2u) * 4u;
        float l = float(u16at(0, row0 + x * 2u) >> 6);
        return vec4(yuv_to_rgb(l, float(u16at(1, c) >> 6), float(u16at(1, c + 2u) >> 6), 10.0), 1.0);
    }
    uint luma = u8at(0, row0 + x);
    if (fmt == FMT_NV12 || (fmt >= FMT_NV21 && fmt <= FMT_NV42)) {
        uint hs = (fmt == FMT_NV24 || fmt == FMT_NV42) ? 1u : 2u;
        uint vs = (fmt == FMT_NV12 || fmt == FMT_NV21) ? 2u : 1u;
        bool swap = fmt == FMT_NV21 || fmt == FMT_NV61 || fmt == FMT_NV42;
        uint c = pc.offsets.y + (y / vs) * pc.strides.y + (x / hs) * 2u;
        uint a = u8at(1, c);
        uint b = u8at(1, c + 1u);
        return vec4(yuv_to_rgb(float(luma), float(swap ? b : a), float(swap ? a : b), 8.0), 1.0);
    }
    // FMT_YUV420, FMT_YVU420, FMT_YUV422, FMT_YUV444: luma, then two chroma planes.
    uint hs = fmt == FMT_YUV444 ? 1u : 2u;
    uint vs = (fmt == FMT_YUV420 || fmt == FMT_YVU420) ? 2u : 1u;
    uint a = u8at(1, pc.offsets.y + (y / vs) * pc.strides.y + x / hs);
    uint b = u8at(2, pc.offsets.z + (y / vs) * pc.strides.z + x / hs);
    bool swap = fmt == FMT_YVU420;
    return vec4(yuv_to_rgb(float(luma), float(swap ? b : a), float(swap ? a : b), 8.0), 1.0);
}

void main() {
    // Bilinear filtering between the four nearest texel centres; at 1:1 scale every fragment sits
    // on a texel centre and this is an exact copy.
    vec2 t = texel - 0.5;
    vec2 base = floor(t);
    vec2 f = t - base;
    ivec2 p = ivec2(base);
    vec4 c00 = fetch(p);
    vec4 c10 = fetch(p + ivec2(1, 0));
    vec4 c01 = fetch(p + ivec2(0, 1));
    vec4 c11 = fetch(p + ivec2(1, 1));
    vec4 c = mix(mix(c00, c10, f.x), mix(c01, c11, f.x), f.y);
    if (pc.info.w == 1) {
        c.a = 1.0;
    }
    frag = c * pc.yuv.w;
}
