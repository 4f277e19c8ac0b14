package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hdnetwork/hdn/internal/indicator"
	"github.com/hdnetwork/hdn/internal/model"
	"github.com/hdnetwork/hdn/internal/store"
)

const proposalColumns = `id, org_id, type, value, labels, description, evidence, status, created, decided, COALESCE(indicator_id, '')`

func scanProposal(sc scanner) (model.Proposal, error) {
	var p model.Proposal
	var typ, status string
	var labels sql.NullString
	var created int64
	var decided sql.NullInt64
	if err := sc.Scan(&p.ID, &p.Org, &typ, &p.Value, &labels, &p.Description, &p.Evidence, &status, &created, &decided, &p.IndicatorID); err != nil {
		return p, err
	}
	var err error
	p.Type, p.Status, p.Created, p.Decided = indicator.Type(typ), model.ProposalStatus(status), FromNano(created), FromOptNano(decided)
	p.Labels, err = DecodeList(labels)
	return p, err
}

// CreateProposal stores a pending proposal, or returns the pending one of the
// same organisation, type and value.
func (s *Store) CreateProposal(ctx context.Context, p model.Proposal) (model.Proposal, error) {
	if p.Org == "" || p.Type == "" || p.Value == "" {
		return p, fmt.Errorf("%s: create proposal: organisation, type and value are needed", s.d.Name)
	}
	p.ID, p.Status = NewID(), model.Pending
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	p.Created = FromNano(ToNano(p.Created))
	err := s.write(ctx, func(tx Tx) error {
		existing, err := scanProposal(tx.QueryRowContext(ctx, `SELECT `+proposalColumns+` FROM proposals
			WHERE org_id = ? AND type = ? AND value = ? AND status = 'pending'`, p.Org, string(p.Type), p.Value))
		if err == nil {
			p = existing
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Another PostgreSQL replica may insert the same proposal
		// meanwhile: then this insert does nothing and the next statement
		// (READ COMMITTED: a new snapshot) finds that one. (SQLite's one
		// writer never gets here.)
		res, err := tx.ExecContext(ctx, `INSERT INTO proposals (id, org_id, type, value, labels, description, evidence, status, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
			ON CONFLICT (org_id, type, value) WHERE status = 'pending' DO NOTHING`,
			p.ID, p.Org, string(p.Type), p.Value, EncodeList(p.Labels), p.Description, p.Evidence, ToNano(p.Created))
		if err != nil {
			return s.mapErr(err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		existing, err = scanProposal(tx.QueryRowContext(ctx, `SELECT `+proposalColumns+` FROM proposals
			WHERE org_id = ? AND type = ? AND value = ? AND status = 'pending'`, p.Org, string(p.Type), p.Value))
		if err != nil {
			return s.mapErr(err)
		}
		p = existing
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("%s: create proposal: %w", s.d.Name, err)
	}
	return p, nil
}

// Proposal returns one proposal.
func (s *Store) Proposal(ctx context.Context, id string) (model.Proposal, error) {
	var p model.Proposal
	err := s.read(ctx, func(tx Tx) error {
		var err error
		p, err = scanProposal(tx.QueryRowContext(ctx, `SELECT `+proposalColumns+` FROM proposals WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return p, fmt.Errorf("%s: proposal %q: %w", s.d.Name, id, err)
	}
	return p, nil
}

// ListProposals lists an organisation's proposals, newest first; status ""
// lists all.
func (s *Store) ListProposals(ctx context.Context, orgID string, status model.ProposalStatus, limit int) ([]model.Proposal, error) {
	var out []model.Proposal
	err := s.read(ctx, func(tx Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+proposalColumns+` FROM proposals
			WHERE org_id = ? AND (? = '' OR status = ?) ORDER BY created DESC, id LIMIT ?`,
			orgID, string(status), string(status), PageLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProposal(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: list proposals: %w", s.d.Name, err)
	}
	return out, nil
}

// CountProposals counts an organisation's proposals of a status ("" all).
func (s *Store) CountProposals(ctx context.Context, orgID string, status model.ProposalStatus) (int, error) {
	var n int
	err := s.read(ctx, func(tx Tx) error {
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM proposals WHERE org_id = ? AND (? = '' OR status = ?)`,
			orgID, string(status), string(status)).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("%s: count the proposals of %q: %w", s.d.Name, orgID, err)
	}
	return n, nil
}

// DecideProposal approves or rejects a pending proposal.
func (s *Store) DecideProposal(ctx context.Context, id string, status model.ProposalStatus, indicatorID string, at time.Time) (model.Proposal, error) {
	if status != model.Approved && status != model.Rejected {
		return model.Proposal{}, fmt.Errorf("%s: decide proposal %q: status %q is not approved or rejected", s.d.Name, id, status)
	}
	var p model.Proposal
	err := s.write(ctx, func(tx Tx) error {
		var err error
		p, err = scanProposal(tx.QueryRowContext(ctx, `SELECT `+proposalColumns+` FROM proposals WHERE id = ?`+s.d.ForUpdate, id))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if p.Status != model.Pending {
			return fmt.Errorf("proposal was %s already: %w", p.Status, store.ErrConflict)
		}
		p.Status, p.Decided, p.IndicatorID = status, FromNano(ToNano(at)), indicatorID
		_, err = tx.ExecContext(ctx, `UPDATE proposals SET status = ?, decided = ?, indicator_id = ? WHERE id = ?`,
			string(status), ToNano(at), OptString(indicatorID), id)
		return err
	})
	if err != nil {
		return p, fmt.Errorf("%s: decide proposal %q: %w", s.d.Name, id, err)
	}
	return p, nil
}
