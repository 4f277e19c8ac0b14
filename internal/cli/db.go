package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// dbEnv is the environment variable that gives --db its default, so that a
// database URL with a password stays out of the process list.
const dbEnv = "HDN_DB"

// dbUsage describes --db wherever it is offered.
const dbUsage = "a PostgreSQL URL (postgres://…; or " + dbEnv + " in the environment) instead of SQLite in --data"

// dbFlag declares --db on fs. Its default is empty rather than $HDN_DB, so
// that -help never prints a URL that may hold a password; dbURL applies the
// environment.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", dbUsage)
}

// dbURL is the database URL of --db, or else of HDN_DB.
func dbURL(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv(dbEnv)
}

// addAdminDBFlag gives every admin command that opens the hub's data
// directory (it has --data) the --db flag too, so that the commands work on
// a hub whose store is PostgreSQL; openData reads it.
func addAdminDBFlag(fs *flag.FlagSet) {
	if strings.HasPrefix(fs.Name(), "hdn admin ") && fs.Lookup("data") != nil && fs.Lookup("db") == nil {
		dbFlag(fs)
	}
}

// checkStoreFlags wants exactly one store: a data directory or a database
// URL. Both at once is refused rather than one silently ignored (HDN_DB left
// in the environment must not send an admin command to another store than
// the --data it was given).
func checkStoreFlags(cmd, dir, db string) error {
	switch {
	case dir == "" && db == "":
		return fmt.Errorf("%s: missing --data DIR (or --db URL, or %s)", cmd, dbEnv)
	case dir != "" && db != "":
		return fmt.Errorf("%s: both --data and --db (or %s) given: choose one store", cmd, dbEnv)
	}
	return nil
}
