#version 450
// One textured or solid quad per draw, no vertex buffer: the four corners come from gl_VertexIndex
// (triangle strip 0:(0,0) 1:(1,0) 2:(0,1) 3:(1,1)).
layout(push_constant) uniform Quad {
    vec4 dst;    // x0, y0, x1, y1 in normalized device coordinates
    vec4 src;    // u0, v0, u1, v1 in normalized texture coordinates
    vec4 color;  // premultiplied RGBA for solid quads
    float alpha; // surface opacity, applied to the premultiplied result
    int mode;    // 0 = texture, 1 = solid colour
    int opaque;  // 1 = ignore the texture's alpha channel (X* formats)
    int transpose; // 1 = the source's x runs along the quad's y (a turned output or buffer)
} quad;

layout(location = 0) out vec2 uv;

void main() {
    vec2 corner = vec2(float(gl_VertexIndex & 1), float((gl_VertexIndex >> 1) & 1));
    uv = mix(quad.src.xy, quad.src.zw, quad.transpose == 1 ? corner.yx : corner);
    gl_Position = vec4(mix(quad.dst.xy, quad.dst.zw, corner), 0.0, 1.0);
}
