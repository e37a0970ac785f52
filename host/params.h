/* Job parameters, declared once per job (name, type, range, default, help,
 * as libvips declares its operation arguments) and read from that one
 * declaration by the command line, `--jobs`, validation, the run history's
 * parameter text and `--explain`. Values live in a small array indexed by
 * the position of the parameter in its job's declaration, so that a job
 * with a new option adds nothing outside its own file. No OpenCL here. */
#ifndef CLD_PARAMS_H
#define CLD_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

enum cld_param_type {
    CLD_PARAM_REAL,  /* a finite double in [min, max] */
    CLD_PARAM_INT,   /* an unsigned decimal integer in [imin, imax] */
    CLD_PARAM_SIZE   /* WxH, each side in [imin, imax] */
};

/* Flags of a declaration. */
#define CLD_PARAM_KEY 0x1u      /* part of the run history's parameter text */
#define CLD_PARAM_OPTIONAL 0x2u /* unset (zero) unless given; an unset
                                   parameter is left out of the text */

struct cld_param {
    const char *name;        /* the option is --name; lower case, [a-z-] */
    enum cld_param_type type;
    const char *metavar;     /* "S" in "--sigma S" */
    double min, max;         /* range of a REAL */
    uint64_t imin, imax;     /* range of an INT, or of each side of a SIZE */
    double def;              /* default of a REAL */
    uint64_t idef;           /* default of an INT; both sides of a SIZE */
    unsigned flags;          /* CLD_PARAM_* */
    const char *help;        /* one short phrase for --jobs */
};

/* Most parameters one job may declare. */
#define CLD_JOB_PARAMS_MAX 8

union cld_value {
    double real;
    uint64_t i;
    struct {
        uint32_t w, h;
    } size;
};

/* What a job's input stands for when it is a reduced decode of a larger
 * image: set by programs only (shrink-on-load tells resize with
 * cld_resize_set_source in jobs.h), never parsed, listed or part of the
 * parameter text (placement and the run history see the job as asked
 * for), since it describes the input rather than the job. All zero: the
 * input is the image itself. */
struct cld_source {
    uint32_t width, height; /* the full image's (upright) size */
    uint32_t shrink;        /* each input sample stands for shrink x shrink
                               pixels; the input is ceil(width / shrink) x
                               ceil(height / shrink), its last column and
                               row covering what is left of the image */
    bool flip_x, flip_y;    /* that axis was mirrored after the decode (EXIF
                               orientation): its partial sample is its
                               first, not its last */
};

/* The parameter values of one job. */
struct cld_params {
    const struct cld_param *decl; /* the job's declaration (static) */
    size_t n;                     /* entries of decl */
    union cld_value v[CLD_JOB_PARAMS_MAX];
    unsigned given;               /* bit i: parameter i was set */
    struct cld_source source;     /* zero unless the input is reduced */
};

/* Values of one item's parameters, by declaration index. */
static inline double cld_param_real(const struct cld_params *p, size_t i)
{
    return p->v[i].real;
}

static inline uint64_t cld_param_int(const struct cld_params *p, size_t i)
{
    return p->v[i].i;
}

static inline uint32_t cld_param_width(const struct cld_params *p, size_t i)
{
    return p->v[i].size.w;
}

static inline uint32_t cld_param_height(const struct cld_params *p, size_t i)
{
    return p->v[i].size.h;
}

/* The defaults of a declaration of n parameters (n <= CLD_JOB_PARAMS_MAX;
 * OPTIONAL ones unset). */
void cld_params_init(struct cld_params *p, const struct cld_param *decl,
                     size_t n);

/* Index of the parameter named name in p's declaration, or -1. */
int cld_params_find(const struct cld_params *p, const char *name);

/* Parse text into parameter i and mark it given. CLD_ERR_USAGE with a
 * detail line naming the option, the text and the accepted range
 * ("--sigma '500' is out of range (0.01..100)") when it does not parse or
 * is out of range; the value is then unchanged. */
enum cld_status cld_params_parse(struct cld_params *p, size_t i,
                                 const char *text);

/* Set parameter `name` by value, checked against its range as when parsed:
 * CLD_ERR_INVALID when the job declares no such parameter, CLD_ERR_USAGE
 * when out of range. set_size takes both sides. */
enum cld_status cld_params_set_real(struct cld_params *p, const char *name,
                                    double v);
enum cld_status cld_params_set_int(struct cld_params *p, const char *name,
                                   uint64_t v);
enum cld_status cld_params_set_size(struct cld_params *p, const char *name,
                                    uint32_t w, uint32_t h);

/* Check every set value against its declared range (values set by
 * programs rather than parsed). CLD_ERR_USAGE with a detail line. */
enum cld_status cld_params_check(const struct cld_params *p);

/* The canonical parameter text of the run history and --explain: the KEY
 * parameters in declaration order, "name=value" separated by spaces (REAL
 * %g, INT %llu, SIZE WxH), unset OPTIONAL ones left out ("" when none).
 * Truncated to len - 1 characters. */
void cld_params_key(const struct cld_params *p, char *buf, size_t len);

/* One parameter's line of the --jobs listing: "--sigma S  Gaussian ...
 * (0.01..100, default 2)", without a newline. */
void cld_param_describe(const struct cld_param *d, char *buf, size_t len);

#endif
