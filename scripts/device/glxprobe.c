/*
 * glxprobe: which OpenGL implementation a GLX pbuffer context gets on $DISPLAY, the way the `gl`
 * package's ANGLE asks for one (libGL.so.1, an FBConfig with a pbuffer). headless-gl masks the
 * renderer as "ANGLE", so this names the driver underneath: llvmpipe (Mesa, software) or a GPU.
 *
 * Everything is looked up with dlopen, so it builds with no GL or X headers: cc -o glxprobe glxprobe.c -ldl
 * Prints one key: value line each; exits 1 when no context could be made, saying at which stage.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void *(*OpenDisplay)(const char *);
typedef void **(*ChooseFBConfig)(void *, int, const int *, int *);
typedef void *(*CreateNewContext)(void *, void *, int, void *, int);
typedef unsigned long (*CreatePbuffer)(void *, void *, const int *);
typedef int (*MakeContextCurrent)(void *, unsigned long, unsigned long, void *);
typedef const char *(*GetString)(unsigned int);
typedef const char *(*GlxString)(void *, int, int);
typedef const char *(*GlxClientString)(void *, int);

static void *sym(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (f == NULL) {
    printf("error: %s not found\n", name);
    exit(1);
  }
  return f;
}

int main(void) {
  void *x11 = dlopen("libX11.so.6", RTLD_NOW | RTLD_GLOBAL);
  void *gl = dlopen("libGL.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (x11 == NULL || gl == NULL) {
    printf("error: %s\n", dlerror());
    return 1;
  }
  void *dpy = ((OpenDisplay)sym(x11, "XOpenDisplay"))(NULL);
  if (dpy == NULL) {
    printf("error: cannot open display %s\n", getenv("DISPLAY") ? getenv("DISPLAY") : "(unset)");
    return 1;
  }
  GlxString server = (GlxString)sym(gl, "glXQueryServerString");
  GlxClientString client = (GlxClientString)sym(gl, "glXGetClientString");
  printf("glx server vendor: %s\n", server(dpy, 0, 1));
  printf("glx client vendor: %s\n", client(dpy, 1));
  const int attrs[] = {0x8010 /* DRAWABLE_TYPE */, 4 /* PBUFFER_BIT */, 0x8011 /* RENDER_TYPE */, 1 /* RGBA_BIT */, 0};
  int n = 0;
  void **configs = ((ChooseFBConfig)sym(gl, "glXChooseFBConfig"))(dpy, 0, attrs, &n);
  if (configs == NULL || n == 0) {
    printf("error: no pbuffer FBConfig (glXChooseFBConfig found %d)\n", n);
    return 1;
  }
  void *ctx = ((CreateNewContext)sym(gl, "glXCreateNewContext"))(dpy, configs[0], 0x8014 /* RGBA_TYPE */, NULL, 1);
  if (ctx == NULL) {
    printf("error: glXCreateNewContext failed\n");
    return 1;
  }
  const int pb[] = {0x8041 /* PBUFFER_WIDTH */, 1, 0x8040 /* PBUFFER_HEIGHT */, 1, 0};
  unsigned long surface = ((CreatePbuffer)sym(gl, "glXCreatePbuffer"))(dpy, configs[0], pb);
  if (!((MakeContextCurrent)sym(gl, "glXMakeContextCurrent"))(dpy, surface, surface, ctx)) {
    printf("error: glXMakeContextCurrent failed\n");
    return 1;
  }
  GetString str = (GetString)sym(gl, "glGetString");
  printf("GL_VENDOR: %s\nGL_RENDERER: %s\nGL_VERSION: %s\n", str(0x1F00), str(0x1F01), str(0x1F02));
  return 0;
}
