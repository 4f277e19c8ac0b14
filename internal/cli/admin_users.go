package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/policy"
	"github.com/hdnetwork/hdn/internal/store"
	"github.com/hdnetwork/hdn/internal/web/session"
)

// userStdin is where --password-stdin reads (tests replace it).
var userStdin io.Reader = os.Stdin

func adminUserCommands() map[string]*command {
	return map[string]*command{
		"add":     {summary: "add a web UI user (password from --password-file or --password-stdin)", run: adminUserAdd},
		"list":    {summary: "list web UI users (never their password hashes)", run: adminUserList},
		"disable": {summary: "disable a user and end its sessions", run: func(e *env) error { return adminUserSwitch(e, true) }},
		"enable":  {summary: "enable a disabled user again", run: func(e *env) error { return adminUserSwitch(e, false) }},
		"passwd":  {summary: "set a user's password (from --password-file or --password-stdin)", run: adminUserPasswd},
	}
}

// userOut is what the user commands print: never the hash.
func userOut(u model.User, orgName string) map[string]any {
	out := map[string]any{"id": u.ID, "org": orgName, "email": u.Email, "name": u.Name, "role": u.Role,
		"disabled": u.Disabled, "created": u.Created}
	if !u.LastSignIn.IsZero() {
		out["last_sign_in"] = u.LastSignIn
	}
	return out
}

// passwordFlags adds --password-file and --password-stdin; there is no
// --password, so that a password never shows in a process listing or a
// shell's history.
func passwordFlags(e *env, fs interface {
	String(name, value, usage string) *string
	Bool(name string, value bool, usage string) *bool
}) func() (string, error) {
	file := fs.String("password-file", "", "read the password from this file (its first line)")
	stdin := fs.Bool("password-stdin", false, "read the password from standard input (its first line)")
	return func() (string, error) {
		var r io.Reader
		switch {
		case *file != "" && *stdin:
			return "", errors.New("give one of --password-file and --password-stdin, not both")
		case *file != "":
			f, err := os.Open(*file)
			if err != nil {
				return "", fmt.Errorf("password file: %w", err)
			}
			defer f.Close()
			r = f
		case *stdin:
			r = userStdin
		default:
			return "", errors.New("missing --password-file FILE or --password-stdin (there is no --password: it would show in process listings)")
		}
		b, err := io.ReadAll(io.LimitReader(r, session.MaxPasswordLen+3))
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[:i]
		}
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) > session.MaxPasswordLen {
			return "", fmt.Errorf("the password must have at most %d bytes", session.MaxPasswordLen)
		}
		if len(b) == 0 {
			return "", errors.New("the password is empty")
		}
		return string(b), nil
	}
}

// newPasswordHash checks a password against the policy and hashes it.
func newPasswordHash(pw, email string) (string, error) {
	if err := session.CheckPasswordPolicy(pw, email); err != nil {
		return "", err
	}
	return session.HashPassword(pw)
}

func adminUserAdd(e *env) error {
	fs := e.flags("hdn admin user add")
	fs.String("data", "", "hub data directory")
	orgName := fs.String("org", "", "organisation name or id")
	email := fs.String("email", "", "e-mail address (the sign-in name)")
	name := fs.String("name", "", "the user's name")
	role := fs.String("role", "", "admin, analyst or readonly")
	readPassword := passwordFlags(e, fs)
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "org", "email", "role"); err != nil {
		return err
	}
	r, err := policy.ParseRole(*role)
	if err != nil {
		return err
	}
	if r == policy.Sensor {
		return errors.New("role sensor is for API keys; a user is admin, analyst or readonly")
	}
	pw, err := readPassword()
	if err != nil {
		return err
	}
	hash, err := newPasswordHash(pw, *email)
	if err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	org, err := st.Org(e.ctx, *orgName)
	if err != nil {
		return fmt.Errorf("organisation %q: %w", *orgName, err)
	}
	u, err := st.CreateUser(e.ctx, model.User{OrgID: org.ID, Email: *email, Name: *name, Role: r, PasswordHash: hash})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user %q: a user with this e-mail address exists", *email)
		}
		return err
	}
	if err := adminAction(e.ctx, st, "user.add", u.ID, string(r)+" "+u.Email+" of "+org.Name); err != nil {
		return err
	}
	return printJSON(e.stdout, userOut(u, org.Name))
}

func adminUserList(e *env) error {
	fs := e.flags("hdn admin user list")
	fs.String("data", "", "hub data directory")
	orgName := fs.String("org", "", "only this organisation's users")
	if err := e.parse(fs); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	orgs, err := st.ListOrgs(e.ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	orgID := ""
	if *orgName != "" {
		org, err := st.Org(e.ctx, *orgName)
		if err != nil {
			return fmt.Errorf("organisation %q: %w", *orgName, err)
		}
		orgID = org.ID
	}
	us, err := st.ListUsers(e.ctx, orgID)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, u := range us {
		out = append(out, userOut(u, names[u.OrgID]))
	}
	return printJSON(e.stdout, out)
}

// adminUserSwitch disables (ending its sessions) or enables a user.
func adminUserSwitch(e *env, disable bool) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disable]
	fs := e.flags("hdn admin user " + verb)
	fs.String("data", "", "hub data directory")
	email := fs.String("email", "", "the user's e-mail address")
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "email"); err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(e.ctx, *email)
	if err != nil {
		return fmt.Errorf("user %q: %w", *email, err)
	}
	u.Disabled = disable
	if err := st.UpdateUser(e.ctx, u); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "user."+verb, u.ID, u.Email); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"id": u.ID, "email": u.Email, "disabled": u.Disabled})
}

func adminUserPasswd(e *env) error {
	fs := e.flags("hdn admin user passwd")
	fs.String("data", "", "hub data directory")
	email := fs.String("email", "", "the user's e-mail address")
	readPassword := passwordFlags(e, fs)
	if err := e.parse(fs); err != nil {
		return err
	}
	if err := required(fs, "email"); err != nil {
		return err
	}
	pw, err := readPassword()
	if err != nil {
		return err
	}
	st, err := openData(e.ctx, fs)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.UserByEmail(e.ctx, *email)
	if err != nil {
		return fmt.Errorf("user %q: %w", *email, err)
	}
	if u.PasswordHash, err = newPasswordHash(pw, u.Email); err != nil {
		return err
	}
	if err := st.UpdateUser(e.ctx, u); err != nil {
		return err
	}
	if err := adminAction(e.ctx, st, "user.passwd", u.ID, u.Email); err != nil {
		return err
	}
	return printJSON(e.stdout, map[string]any{"id": u.ID, "email": u.Email, "password_changed": true})
}
