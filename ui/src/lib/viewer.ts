// The image viewer: framework-free, one canvas. Stored samples are uploaded once per frame as a
// 16-bit integer texture and windowed in a WebGL2 fragment shader, so window/level is a uniform
// change; where WebGL2 is missing (or refused), a CPU path windows through a 65536-entry table.

import { storedSize, type Frame } from "./frame";
import { greyTable, type Window } from "./windowing";

export type RenderMode = "webgl2" | "cpu";

export interface View {
  zoom: number;
  panX: number;
  panY: number;
}

const VERTEX = `#version 300 es
in vec2 a_pos;
uniform vec2 u_scale;
uniform vec2 u_offset;
out vec2 v_uv;
void main() {
  v_uv = vec2(a_pos.x * 0.5 + 0.5, 0.5 - a_pos.y * 0.5);
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
}`;

// `texel` reads one stored sample (as modality values, or RGB); `at` samples the image at a
// texture coordinate, nearest or — when zoomed images are smoothed — bilinear between the four
// nearest texels, on modality values before windowing (as a viewer should: interpolating
// windowed greys would blur the window's edges).
const fragment = (sampler: string, texel: string, colour: string) => `#version 300 es
precision highp float;
precision highp int;
uniform highp ${sampler} u_image;
uniform vec2 u_size;
uniform float u_slope;
uniform float u_intercept;
uniform float u_center;
uniform float u_width;
uniform bool u_invert;
uniform bool u_smooth;
in vec2 v_uv;
out vec4 outColor;
${texel}
vec4 at(vec2 uv) {
  ivec2 hi = ivec2(u_size) - 1;
  if (!u_smooth) return texel(clamp(ivec2(floor(uv * u_size)), ivec2(0), hi));
  vec2 f = uv * u_size - 0.5;
  vec2 b = floor(f);
  vec2 t = f - b;
  ivec2 i = ivec2(b);
  vec4 a = mix(texel(clamp(i, ivec2(0), hi)), texel(clamp(i + ivec2(1, 0), ivec2(0), hi)), t.x);
  vec4 c = mix(texel(clamp(i + ivec2(0, 1), ivec2(0), hi)), texel(clamp(i + ivec2(1, 1), ivec2(0), hi)), t.x);
  return mix(a, c, t.y);
}
void main() {
  vec4 v = at(v_uv);
  ${colour}
}`;

const GREY_TEXEL = `
vec4 texel(ivec2 q) { return vec4(float(texelFetch(u_image, q, 0).r) * u_slope + u_intercept); }`;

// The DICOM linear VOI function, as windowing.ts computes it on the CPU.
const GREY_COLOUR = `
  float x = v.r;
  float w = max(u_width, 1.0);
  float lo = u_center - 0.5 - (w - 1.0) / 2.0;
  float g = x <= lo ? 0.0 : (x > u_center - 0.5 + (w - 1.0) / 2.0 ? 1.0 : (x - (u_center - 0.5)) / (w - 1.0) + 0.5);
  g = floor(g * 255.0 + 0.5) / 255.0;
  if (u_invert) g = 1.0 - g;
  outColor = vec4(g, g, g, 1.0);`;

const RGB_TEXEL = `
vec4 texel(ivec2 q) { return vec4(texelFetch(u_image, q, 0).rgb, 1.0); }`;

const RGB_COLOUR = `
  vec3 c = v.rgb;
  outColor = vec4(u_invert ? 1.0 - c : c, 1.0);`;

export class Viewer {
  readonly mode: RenderMode;
  private gl: WebGL2RenderingContext | null = null;
  private ctx: CanvasRenderingContext2D | null = null;
  private programs = new Map<string, WebGLProgram>();
  private texture: WebGLTexture | null = null;
  private frame: Frame | null = null;
  private cpuImage: HTMLCanvasElement | null = null;
  private cpuTableKey = "";
  window: Window = { center: 0, width: 1 };
  invert = false;
  /** Zoomed images interpolated (bilinear); false shows each stored pixel as a square. */
  smooth = true;
  view: View = { zoom: 1, panX: 0, panY: 0 };

  constructor(
    private canvas: HTMLCanvasElement,
    options: { forceCpu?: boolean } = {},
  ) {
    const gl = options.forceCpu
      ? null
      : canvas.getContext("webgl2", { preserveDrawingBuffer: true, antialias: false });
    if (gl) {
      this.gl = gl;
      this.mode = "webgl2";
      this.setupGl(gl);
    } else {
      this.ctx = canvas.getContext("2d");
      this.mode = "cpu";
    }
  }

  private setupGl(gl: WebGL2RenderingContext) {
    const compile = (type: number, src: string) => {
      const s = gl.createShader(type)!;
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) ?? "shader");
      return s;
    };
    const vs = compile(gl.VERTEX_SHADER, VERTEX);
    const variants: [string, string, string, string][] = [
      ["u16", "usampler2D", GREY_TEXEL, GREY_COLOUR],
      ["i16", "isampler2D", GREY_TEXEL, GREY_COLOUR],
      ["rgb8", "sampler2D", RGB_TEXEL, RGB_COLOUR],
    ];
    for (const [name, sampler, texel, colour] of variants) {
      const p = gl.createProgram()!;
      gl.attachShader(p, vs);
      gl.attachShader(p, compile(gl.FRAGMENT_SHADER, fragment(sampler, texel, colour)));
      gl.bindAttribLocation(p, 0, "a_pos");
      gl.linkProgram(p);
      if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p) ?? "link");
      this.programs.set(name, p);
    }
    const quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    this.texture = gl.createTexture();
    this.warm(gl);
  }

  /** Draws each program once on a 1×1 image, then clears: a software GL (Mesa's llvmpipe, as
   *  under Xvfb) compiles a shader for the texture it samples only at its first draw, which would
   *  otherwise fall on the first image the reader chooses. */
  private warm(gl: WebGL2RenderingContext) {
    const one: Record<string, [number, number, number, ArrayBufferView]> = {
      u16: [gl.R16UI, gl.RED_INTEGER, gl.UNSIGNED_SHORT, new Uint16Array(1)],
      i16: [gl.R16I, gl.RED_INTEGER, gl.SHORT, new Int16Array(1)],
      rgb8: [gl.RGB8, gl.RGB, gl.UNSIGNED_BYTE, new Uint8Array(3)],
    };
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.viewport(0, 0, 1, 1);
    for (const [name, p] of this.programs) {
      const [internal, format, type, pixels] = one[name];
      gl.texImage2D(gl.TEXTURE_2D, 0, internal, 1, 1, 0, format, type, pixels);
      gl.useProgram(p);
      gl.uniform2f(gl.getUniformLocation(p, "u_scale"), 1, 1);
      gl.uniform2f(gl.getUniformLocation(p, "u_size"), 1, 1);
      gl.uniform1f(gl.getUniformLocation(p, "u_width"), 1);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    }
    gl.clearColor(0, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
  }

  /** Shows a new frame; keeps the window if `keepWindow` (scrolling a series), else the frame's. */
  setFrame(frame: Frame, keepWindow = false) {
    this.frame = frame;
    if (!keepWindow) {
      this.window = { center: frame.header.window_center, width: frame.header.window_width };
      this.invert = false;
    }
    // A preview's pixels are fewer than the frame's (`storedSize`); it is placed as the frame.
    const [width, height] = storedSize(frame.header);
    const { format } = frame.header;
    const gl = this.gl;
    if (gl) {
      gl.bindTexture(gl.TEXTURE_2D, this.texture);
      gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      if (format === "u16") {
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R16UI, width, height, 0, gl.RED_INTEGER, gl.UNSIGNED_SHORT, frame.pixels);
      } else if (format === "i16") {
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.R16I, width, height, 0, gl.RED_INTEGER, gl.SHORT, frame.pixels);
      } else {
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB8, width, height, 0, gl.RGB, gl.UNSIGNED_BYTE, frame.pixels);
      }
    } else {
      this.cpuTableKey = "";
    }
    this.render();
  }

  get current(): Frame | null {
    return this.frame;
  }

  /** Shows nothing: an image that could not be drawn must not leave the last one (perhaps
   *  another patient's) on screen. */
  clear() {
    this.frame = null;
    const gl = this.gl;
    if (gl) {
      gl.viewport(0, 0, this.canvas.width, this.canvas.height);
      gl.clearColor(0, 0, 0, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
    } else if (this.ctx) {
      this.ctx.fillStyle = "#000";
      this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    }
  }

  /** Whether the image on screen is a reduced preview, not yet the full frame. */
  get reduced(): boolean {
    return (this.frame?.header.reduced ?? 1) > 1;
  }

  /** The size, in full-frame pixels, that the stored pixels cover: the frame's, or for a
   *  preview each block's whole width (its last blocks, cut short in the full frame, drawn
   *  whole: every preview pixel exactly over the pixels it is the mean of). */
  private covered(frame: Frame): [number, number] {
    const f = frame.header.reduced ?? 1;
    const [w, h] = storedSize(frame.header);
    return [w * f, h * f];
  }

  /** The image-to-canvas scale at the current zoom (image fitted, aspect kept). */
  scale(): number {
    if (!this.frame) return 1;
    const { width, height } = this.frame.header;
    const fit = Math.min(this.canvas.width / width, this.canvas.height / height);
    return fit * this.view.zoom;
  }

  /** Where the image's top-left corner is on the canvas, and its scale. */
  private placement(): { left: number; top: number; s: number } {
    const s = this.scale();
    const { width, height } = this.frame!.header;
    return {
      left: (this.canvas.width - width * s) / 2 + this.view.panX,
      top: (this.canvas.height - height * s) / 2 + this.view.panY,
      s,
    };
  }

  /** Canvas pixel → image pixel coordinates. */
  toImage(x: number, y: number): [number, number] {
    if (!this.frame) return [0, 0];
    const { left, top, s } = this.placement();
    return [(x - left) / s, (y - top) / s];
  }

  /** Image pixel → canvas pixel coordinates. */
  toCanvas(x: number, y: number): [number, number] {
    if (!this.frame) return [0, 0];
    const { left, top, s } = this.placement();
    return [left + x * s, top + y * s];
  }

  render() {
    const frame = this.frame;
    if (!frame) return;
    if (this.gl) this.renderGl(this.gl, frame);
    else if (this.ctx) this.renderCpu(this.ctx, frame);
  }

  private renderGl(gl: WebGL2RenderingContext, frame: Frame) {
    const { format, slope, intercept } = frame.header;
    const [width, height] = this.covered(frame);
    // The quad is centred on the full frame's centre; a preview covering more moves by half.
    const s = this.scale();
    const shiftX = ((width - frame.header.width) * s) / 2;
    const shiftY = ((height - frame.header.height) * s) / 2;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    const p = this.programs.get(format)!;
    gl.useProgram(p);
    const u = (name: string) => gl.getUniformLocation(p, name);
    gl.uniform2f(u("u_scale"), (width * s) / this.canvas.width, (height * s) / this.canvas.height);
    gl.uniform2f(u("u_offset"), (2 * (this.view.panX + shiftX)) / this.canvas.width, (-2 * (this.view.panY + shiftY)) / this.canvas.height);
    gl.uniform2f(u("u_size"), ...storedSize(frame.header));
    gl.uniform1f(u("u_slope"), slope);
    gl.uniform1f(u("u_intercept"), intercept);
    gl.uniform1f(u("u_center"), this.window.center);
    gl.uniform1f(u("u_width"), this.window.width);
    gl.uniform1i(u("u_invert"), frame.header.invert !== this.invert ? 1 : 0);
    gl.uniform1i(u("u_smooth"), this.smooth ? 1 : 0);
    gl.uniform1i(u("u_image"), 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  private renderCpu(ctx: CanvasRenderingContext2D, frame: Frame) {
    const { format, slope, intercept } = frame.header;
    const [width, height] = storedSize(frame.header);
    const invert = frame.header.invert !== this.invert;
    const key = `${this.window.center}/${this.window.width}/${invert}/${frame.header.sha256}/${frame.header.frame}/${frame.header.reduced ?? 1}`;
    if (key !== this.cpuTableKey || !this.cpuImage) {
      const image = this.cpuImage ?? document.createElement("canvas");
      image.width = width;
      image.height = height;
      const c = image.getContext("2d")!;
      const data = c.createImageData(width, height);
      const out = data.data;
      const n = width * height;
      if (format === "rgb8") {
        const px = frame.pixels as Uint8Array;
        for (let i = 0; i < n; i++) {
          const o = i * 4;
          out[o] = invert ? 255 - px[i * 3] : px[i * 3];
          out[o + 1] = invert ? 255 - px[i * 3 + 1] : px[i * 3 + 1];
          out[o + 2] = invert ? 255 - px[i * 3 + 2] : px[i * 3 + 2];
          out[o + 3] = 255;
        }
      } else {
        const signed = format === "i16";
        const table = greyTable(signed, slope, intercept, this.window, invert);
        const px = frame.pixels as Uint16Array | Int16Array;
        const offset = signed ? 32768 : 0;
        for (let i = 0; i < n; i++) {
          const g = table[px[i] + offset];
          const o = i * 4;
          out[o] = g;
          out[o + 1] = g;
          out[o + 2] = g;
          out[o + 3] = 255;
        }
      }
      c.putImageData(data, 0, 0);
      this.cpuImage = image;
      this.cpuTableKey = key;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.imageSmoothingEnabled = this.smooth;
    const [x, y] = this.toCanvas(0, 0);
    const s = this.scale();
    const [w, h] = this.covered(frame);
    ctx.drawImage(this.cpuImage, x, y, w * s, h * s);
  }
}
