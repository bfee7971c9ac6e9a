// EGL (with its extensions), desktop OpenGL core through libglvnd's libOpenGL, and GBM's types,
// for Swift.
// EGL extension entry points are declared here but are not exported by libEGL: they are loaded
// with eglGetProcAddress at run time. GL core entry points up to 4.5 are exported by libOpenGL.
#ifndef VYRE_CEGL_SHIM_H
#define VYRE_CEGL_SHIM_H

#define EGL_EGLEXT_PROTOTYPES 1
#define GL_GLEXT_PROTOTYPES 1
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/glcorearb.h>
#include <gbm.h>

// libgbm is loaded at run time (dlopen), so machines without it (NVIDIA hosts) still run: these
// are the two entry points vyre-gl calls.
typedef struct gbm_device *(*vyre_gbm_create_device_fn)(int fd);
typedef void (*vyre_gbm_device_destroy_fn)(struct gbm_device *gbm);

// EGL's sentinel handles are macros with casts, which Swift cannot import.
static inline EGLDisplay vyre_egl_no_display(void) { return EGL_NO_DISPLAY; }
static inline EGLContext vyre_egl_no_context(void) { return EGL_NO_CONTEXT; }
static inline EGLSurface vyre_egl_no_surface(void) { return EGL_NO_SURFACE; }
static inline EGLConfig vyre_egl_no_config(void) { return (EGLConfig)0; }
static inline EGLDeviceEXT vyre_egl_no_device(void) { return EGL_NO_DEVICE_EXT; }
static inline GLsync vyre_gl_no_sync(void) { return (GLsync)0; }

// Extension-only constants that older eglext.h copies lack.
#ifndef EGL_DRM_RENDER_NODE_FILE_EXT
#define EGL_DRM_RENDER_NODE_FILE_EXT 0x3377
#endif
#ifndef EGL_PLATFORM_GBM_KHR
#define EGL_PLATFORM_GBM_KHR 0x31D7
#endif
#ifndef EGL_PLATFORM_SURFACELESS_MESA
#define EGL_PLATFORM_SURFACELESS_MESA 0x31DD
#endif

#endif
