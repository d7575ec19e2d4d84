/*
 * mvm.h: the whole public API of libmvm.
 */
#ifndef MVM_H
#define MVM_H

#include "mvm/common.h"
#include "mvm/buf.h"
#include "mvm/objects.h"
#include "mvm/repo.h"
#include "mvm/refs.h"
#include "mvm/worktree.h"
#include "mvm/inspect.h"
#include "mvm/maint.h"
#include "mvm/audit.h"
#include "mvm/registry.h"
#include "mvm/release.h"
#include "mvm/runs.h"

#endif
