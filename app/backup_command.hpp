#pragma once

// `castor backup DIR`: asks a running server for a backup of its store
// (POST /api/v1/backup of its REST API, docs/persistence.md "Backup and
// restore") and says where it went.

#include <string>
#include <vector>

namespace castor {

/// Runs `castor backup` with the arguments after the command; returns the
/// process's exit status (0: the backup is written).
int run_backup(const std::vector<std::string>& args);

} // namespace castor
