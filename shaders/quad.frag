#version 450
// Premultiplied-alpha output: the pipeline blends with (ONE, ONE_MINUS_SRC_ALPHA).
layout(push_constant) uniform Quad {
    vec4 dst;
    vec4 src;
    vec4 color;
    float alpha;
    int mode;
    int opaque;
} quad;

layout(set = 0, binding = 0) uniform sampler2D tex;

layout(location = 0) in vec2 uv;
layout(location = 0) out vec4 frag;

void main() {
    vec4 c;
    if (quad.mode == 1) {
        c = quad.color;
    } else {
        // Keep the bilinear footprint inside the source rectangle: a viewport crop must not bleed
        // texels from outside the crop into its edges.
        vec2 half_texel = 0.5 / vec2(textureSize(tex, 0));
        vec2 lo = min(quad.src.xy, quad.src.zw) + half_texel;
        vec2 hi = max(quad.src.xy, quad.src.zw) - half_texel;
        c = texture(tex, clamp(uv, lo, hi));
        if (quad.opaque == 1) {
            c.a = 1.0;
        }
    }
    frag = c * quad.alpha;
}
