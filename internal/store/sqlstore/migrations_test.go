package sqlstore

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []string // names in order
		wantErr string
	}{
		{
			name: "ordered by version, not by name",
			files: fstest.MapFS{
				"migrations/10_ten.sql":   file("ten"),
				"migrations/2_two.sql":    file("two"),
				"migrations/0001_one.sql": file("one"),
				"migrations/README":       file("not a migration"),
			},
			want: []string{"0001_one.sql", "2_two.sql", "10_ten.sql"},
		},
		{
			name:    "a name without a version",
			files:   fstest.MapFS{"migrations/init.sql": file("x")},
			wantErr: "init.sql: name must start with a positive version number",
		},
		{
			name:    "version zero",
			files:   fstest.MapFS{"migrations/0_init.sql": file("x")},
			wantErr: "0_init.sql: name must start with a positive version number",
		},
		{
			name: "two files of one version",
			files: fstest.MapFS{
				"migrations/0002_a.sql": file("a"),
				"migrations/2_b.sql":    file("b"),
			},
			wantErr: "have the same version",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Migrations(tc.files)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Migrations: %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.Name)
				if !strings.HasSuffix(m.Name, m.SQL+".sql") {
					t.Errorf("%s: SQL %q is not the file's", m.Name, m.SQL)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Migrations = %v, want %v", got, tc.want)
			}
		})
	}
}
