/* The RFC 862/863/864 diagnostics services as an application of the loop, and [diag]. */
#ifndef AG_DATAPLANE_DIAG_APP_H
#define AG_DATAPLANE_DIAG_APP_H

#include <stdint.h>

#include "common/ini.h"

struct diag_conf {
	uint32_t echo_port;    /* RFC 862; 0 = off */
	uint32_t discard_port; /* RFC 863 */
	uint32_t chargen_port; /* RFC 864 */
};

/* [diag], relative to a struct diag_conf. */
extern const struct ini_section diag_conf_section;

/* Registers the services with the loop; conf must outlive it. 0 or -errno. */
int diag_app_register(const struct diag_conf *conf);

#endif
