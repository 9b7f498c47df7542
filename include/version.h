/* version.h — the program version carried in `shadowd/status` and `--version`. */
#ifndef VERSION_H
#define VERSION_H

#define SHADOW_VERSION "0.1.0"

#endif
