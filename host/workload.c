/* Names of workload classes. */
#include "workload.h"

const char *cld_workload_class_str(enum cld_workload_class cls)
{
    switch (cls) {
    case CLD_CLASS_IMAGE: return "data-parallel image";
    case CLD_CLASS_NUMERIC: return "data-parallel numeric";
    case CLD_CLASS_SEQUENTIAL: return "sequential";
    case CLD_CLASS_BRANCHY: return "branch-heavy";
    case CLD_CLASS_GENERATOR: return "generator";
    case CLD_CLASS_COUNT: break;
    }
    return "unknown";
}
