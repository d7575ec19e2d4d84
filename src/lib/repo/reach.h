/*
 * reach.h: marking live objects and chunks (for gc).
 */
#ifndef MVM_REPO_REACH_H
#define MVM_REPO_REACH_H

#include "repo_internal.h"

/** Fill temp tables live_obj and live_chunk with everything still needed. */
int mvm_reach_mark(mvm_repo *repo);

#endif
