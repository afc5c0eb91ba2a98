package state

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// An import's batch (BeginImport) has a connection of its own, and runs
// its statements below database/sql: on the driver's statements of that
// connection, inside the same SQLite transaction. database/sql's share of
// a statement (its locks, argument conversion, result and row machinery,
// Scan) was about a tenth of a large import's writer; the statements and
// their effects are the same. Other transactions use database/sql.

// rawStmt is a driver statement prepared on the batch's connection.
func (t *Tx) rawStmt(dc any, q string) (driver.Stmt, error) {
	if st, ok := t.raw[q]; ok {
		return st, nil
	}
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("the SQLite driver's connection cannot prepare with a context")
	}
	st, err := p.PrepareContext(t.ctx, q)
	if err != nil {
		return nil, err
	}
	if t.raw == nil {
		t.raw = map[string]driver.Stmt{}
	}
	t.raw[q] = st
	return st, nil
}

// rawBound is q's driver statement, with args converted into t.args.
func (t *Tx) rawBound(dc any, q string, args []any) (driver.Stmt, error) {
	st, err := t.rawStmt(dc, q)
	if err != nil {
		return nil, err
	}
	t.args, err = named(t.args, args)
	return st, err
}

// named converts the arguments the store passes (integers of any width,
// strings, booleans, nil) to the driver's values, into buf.
func named(buf []driver.NamedValue, args []any) ([]driver.NamedValue, error) {
	buf = buf[:0]
	for i, a := range args {
		var v driver.Value
		switch x := a.(type) {
		case int64, string, bool, nil, []byte, float64:
			v = x
		case int:
			v = int64(x)
		case uint32:
			v = int64(x)
		case int32:
			v = int64(x)
		default:
			return nil, fmt.Errorf("argument %d: %T is not a value the store writes", i+1, a)
		}
		buf = append(buf, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return buf, nil
}

// execResult runs q with args and returns its result: below database/sql
// in an import's batch.
func (t *Tx) execResult(q string, args ...any) (sql.Result, error) {
	if t.conn == nil {
		st, err := t.prep(q)
		if err != nil {
			return nil, err
		}
		res, err := st.ExecContext(t.ctx, args...)
		return res, t.s.classify(err)
	}
	var res driver.Result
	err := t.conn.Raw(func(dc any) error {
		st, err := t.rawBound(dc, q, args)
		if err != nil {
			return err
		}
		e, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("the SQLite driver's statement cannot execute with a context")
		}
		res, err = e.ExecContext(t.ctx, t.args)
		return err
	})
	if err != nil {
		return nil, t.s.classify(err)
	}
	return res, nil
}

// queryRow runs q with args and reads its first row into dest (as Scan
// would: pointers to strings and booleans, or sql.Scanners); ok is false
// when there is none.
func (t *Tx) queryRow(q string, args []any, dest ...any) (ok bool, err error) {
	if t.conn == nil {
		st, err := t.prep(q)
		if err != nil {
			return false, err
		}
		err = st.QueryRowContext(t.ctx, args...).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, t.s.classify(err)
	}
	err = t.conn.Raw(func(dc any) error {
		st, err := t.rawBound(dc, q, args)
		if err != nil {
			return err
		}
		qc, isQ := st.(driver.StmtQueryContext)
		if !isQ {
			return fmt.Errorf("the SQLite driver's statement cannot query with a context")
		}
		rows, err := qc.QueryContext(t.ctx, t.args)
		if err != nil {
			return err
		}
		defer rows.Close()
		if cap(t.vals) < len(dest) {
			t.vals = make([]driver.Value, len(dest))
		}
		vals := t.vals[:len(dest)]
		if err := rows.Next(vals); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		for i, v := range vals {
			if err := assign(dest[i], v); err != nil {
				return fmt.Errorf("column %d: %w", i+1, err)
			}
		}
		ok = true
		return nil
	})
	return ok, t.s.classify(err)
}

// assign stores a driver value in a Scan destination of the kinds the
// store reads into.
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(v)
	case *string:
		switch s := v.(type) {
		case string:
			*d = s
		case []byte:
			*d = string(s)
		case nil:
			*d = ""
		default:
			return fmt.Errorf("a text column holds %T", v)
		}
	case *bool:
		switch b := v.(type) {
		case int64:
			*d = b != 0
		case bool:
			*d = b
		case nil:
			*d = false
		default:
			return fmt.Errorf("a boolean column holds %T", v)
		}
	default:
		return fmt.Errorf("cannot read into %T", dest)
	}
	return nil
}

// closeRaw closes the driver statements before the connection goes back.
func (t *Tx) closeRaw() {
	if len(t.raw) == 0 {
		return
	}
	_ = t.conn.Raw(func(any) error {
		for _, st := range t.raw {
			_ = st.Close()
		}
		return nil
	})
	t.raw = nil
}
