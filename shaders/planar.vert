#version 450
// The quad of a planar (dma-buf) source: like quad.vert, but `src` is in texels, because the fragment
// shader addresses the client's memory itself (see planar.frag).
layout(push_constant) uniform Planar {
    vec4 dst; // x0, y0, x1, y1 in normalized device coordinates
    vec4 src; // x0, y0, x1, y1 in buffer texels (y0 > y1 for y-inverted buffers)
    uvec4 offsets;
    uvec4 strides;
    ivec4 info;
    vec4 yuv;
    ivec4 orient; // x: 1 = the source's x runs along the quad's y (a turned output or buffer)
} pc;

layout(location = 0) out vec2 texel;

void main() {
    vec2 corner = vec2(float(gl_VertexIndex & 1), float((gl_VertexIndex >> 1) & 1));
    texel = mix(pc.src.xy, pc.src.zw, pc.orient.x == 1 ? corner.yx : corner);
    gl_Position = vec4(mix(pc.dst.xy, pc.dst.zw, corner), 0.0, 1.0);
}
