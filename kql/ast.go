package kql

// The AST is closed: every node type implements a marker method, so a type
// switch over Expr or Operator can list every case. Positions are byte
// offsets into the query text; they are ignored when two trees are compared.

// Pos is a byte offset into the query text.
type Pos int

// Node is any syntax-tree node.
type Node interface {
	Position() Pos
	String() string
}

// Query is a parsed query: zero or more let statements and one tabular
// expression.
type Query struct {
	Lets []*LetStmt
	Body *Pipeline
	text string // the source, for positioned errors during binding
}

// LetStmt is "let Name = value;". Exactly one of Scalar and Tabular is set.
type LetStmt struct {
	P       Pos
	Name    string
	Scalar  Expr
	Tabular *Pipeline
}

// Pipeline is a source followed by "| operator" stages.
type Pipeline struct {
	P      Pos
	Source Source
	Ops    []Operator
}

// Source is what a pipeline starts with.
type Source interface {
	Node
	source()
}

// TableRef names a table (or a tabular let). Implicit is set when the query
// starts with an operator and so reads the default table.
type TableRef struct {
	P        Pos
	Name     string
	Implicit bool
}

// DatatableSource is datatable(col:type, ...)[values...].
type DatatableSource struct {
	P       Pos
	Columns []ColumnDecl
	Values  []Expr
}

// ColumnDecl is "name:type".
type ColumnDecl struct {
	Name string
	Type Type
}

// ParenSource is a parenthesised pipeline used as a source.
type ParenSource struct {
	P     Pos
	Inner *Pipeline
}

// UnionSource is a union at the start of a pipeline: union A, B.
type UnionSource struct {
	P     Pos
	Union *UnionOp
}

func (*TableRef) source()        {}
func (*DatatableSource) source() {}
func (*ParenSource) source()     {}
func (*UnionSource) source()     {}

func (n *TableRef) Position() Pos        { return n.P }
func (n *DatatableSource) Position() Pos { return n.P }
func (n *ParenSource) Position() Pos     { return n.P }
func (n *UnionSource) Position() Pos     { return n.P }
func (n *Pipeline) Position() Pos        { return n.P }
func (n *LetStmt) Position() Pos         { return n.P }

// Operator is one tabular operator after a pipe.
type Operator interface {
	Node
	operator()
}

// WhereOp is "where Pred" (also "filter").
type WhereOp struct {
	P    Pos
	Pred Expr
}

// NamedExpr is "[Name =] Expr"; Name is empty when the name is inferred.
type NamedExpr struct {
	Name string
	Expr Expr
}

// ExtendOp is "extend a = x, ...".
type ExtendOp struct {
	P    Pos
	Cols []NamedExpr
}

// ProjectOp is "project a, b = x".
type ProjectOp struct {
	P    Pos
	Cols []NamedExpr
}

// ProjectAwayOp is "project-away a, b*" (wildcards allowed); ProjectKeep
// selects the listed columns instead.
type ProjectAwayOp struct {
	P     Pos
	Names []string
	Keep  bool
}

// ProjectRenameOp is "project-rename new = old, ...".
type ProjectRenameOp struct {
	P     Pos
	Pairs []RenamePair
}

// RenamePair renames Old to New.
type RenamePair struct{ New, Old string }

// ProjectReorderOp is "project-reorder a, b*".
type ProjectReorderOp struct {
	P     Pos
	Names []string
}

// SummarizeOp is "summarize aggs by keys".
type SummarizeOp struct {
	P    Pos
	Aggs []NamedExpr
	By   []NamedExpr
}

// CountOp is "count".
type CountOp struct{ P Pos }

// DistinctOp is "distinct a, b" or "distinct *".
type DistinctOp struct {
	P    Pos
	Star bool
	Cols []NamedExpr
}

// TakeOp is "take N" / "limit N".
type TakeOp struct {
	P Pos
	N Expr
}

// SortKey is one "expr [asc|desc] [nulls first|last]".
type SortKey struct {
	Expr Expr
	Asc  bool
	// Nulls is "", "first" or "last" as written; empty means the default
	// (nulls first for asc, last for desc).
	Nulls string
}

// OrderOp is "order by" / "sort by".
type OrderOp struct {
	P    Pos
	Keys []SortKey
}

// TopOp is "top N by key".
type TopOp struct {
	P   Pos
	N   Expr
	Key SortKey
}

// JoinOp is "join kind=K (right) on conditions". On holds identifiers (same
// name on both sides) or $left.x == $right.y comparisons.
type JoinOp struct {
	P     Pos
	Kind  string // as written, lower-case; "" means the default innerunique
	Right *Pipeline
	On    []Expr
}

// UnionOp is "union [kind=inner|outer] [withsource=Col] legs".
type UnionOp struct {
	P          Pos
	Kind       string // "", "inner" or "outer"
	WithSource string
	Legs       []*Pipeline
}

// MvExpandOp is "mv-expand [bagexpansion=bag|array] [with_itemindex=I] items [limit N]".
type MvExpandOp struct {
	P            Pos
	Legacy       bool // written as mvexpand
	BagExpansion string
	ItemIndex    string
	Items        []MvExpandItem
	Limit        Expr
}

// MvExpandItem is "[Name =] expr [to typeof(T)]".
type MvExpandItem struct {
	Name   string
	Expr   Expr
	ToType Type // TypeUnknown when absent
}

// ParseOp is "parse [kind=simple|regex] expr with pattern".
type ParseOp struct {
	P       Pos
	Kind    string
	Source  Expr
	Pattern []ParsePart
}

// ParsePart is one element of a parse pattern: a literal string, "*", or a
// capture "name[:type]".
type ParsePart struct {
	Literal string
	IsLit   bool
	Star    bool
	Name    string
	Type    Type // TypeUnknown when not given (string)
}

// UnsupportedOp is an operator that is valid KQL but not implemented; it
// keeps its raw text so the printer round-trips and the binder can name it in
// its error.
type UnsupportedOp struct {
	P    Pos
	Name string
	Raw  string
}

func (*WhereOp) operator()          {}
func (*ExtendOp) operator()         {}
func (*ProjectOp) operator()        {}
func (*ProjectAwayOp) operator()    {}
func (*ProjectRenameOp) operator()  {}
func (*ProjectReorderOp) operator() {}
func (*SummarizeOp) operator()      {}
func (*CountOp) operator()          {}
func (*DistinctOp) operator()       {}
func (*TakeOp) operator()           {}
func (*OrderOp) operator()          {}
func (*TopOp) operator()            {}
func (*JoinOp) operator()           {}
func (*UnionOp) operator()          {}
func (*MvExpandOp) operator()       {}
func (*ParseOp) operator()          {}
func (*UnsupportedOp) operator()    {}

func (n *WhereOp) Position() Pos          { return n.P }
func (n *ExtendOp) Position() Pos         { return n.P }
func (n *ProjectOp) Position() Pos        { return n.P }
func (n *ProjectAwayOp) Position() Pos    { return n.P }
func (n *ProjectRenameOp) Position() Pos  { return n.P }
func (n *ProjectReorderOp) Position() Pos { return n.P }
func (n *SummarizeOp) Position() Pos      { return n.P }
func (n *CountOp) Position() Pos          { return n.P }
func (n *DistinctOp) Position() Pos       { return n.P }
func (n *TakeOp) Position() Pos           { return n.P }
func (n *OrderOp) Position() Pos          { return n.P }
func (n *TopOp) Position() Pos            { return n.P }
func (n *JoinOp) Position() Pos           { return n.P }
func (n *UnionOp) Position() Pos          { return n.P }
func (n *MvExpandOp) Position() Pos       { return n.P }
func (n *ParseOp) Position() Pos          { return n.P }
func (n *UnsupportedOp) Position() Pos    { return n.P }

// Expr is a scalar expression.
type Expr interface {
	Node
	expr()
}

// Ident is a column, let or $left/$right reference.
type Ident struct {
	P    Pos
	Name string
}

// Literal is a constant. Text is the canonical source form; Val the value.
type Literal struct {
	P    Pos
	Text string
	Val  Value
}

// BinaryExpr is "L Op R" for arithmetic, comparison, logical and string
// operators (Op is lower-case as in KQL: "has", "!contains_cs", "and").
type BinaryExpr struct {
	P    Pos
	Op   string
	L, R Expr
}

// UnaryExpr is "-X" or "+X".
type UnaryExpr struct {
	P  Pos
	Op string
	X  Expr
}

// InExpr is "X in (list)" with Op one of in, !in, in~, !in~, has_any, has_all.
// A list element may be a dynamic array (flattened); Tabular is a subquery.
type InExpr struct {
	P       Pos
	Op      string
	X       Expr
	List    []Expr
	Tabular *Pipeline
}

// BetweenExpr is "X [!]between (Lo .. Hi)".
type BetweenExpr struct {
	P      Pos
	Not    bool
	X      Expr
	Lo, Hi Expr
}

// CallExpr is a function call.
type CallExpr struct {
	P    Pos
	Name string
	Args []Expr
}

// MemberExpr is "X.Name" (also written X['Name'] is an IndexExpr; X.['Name']
// is a MemberExpr whose name needs quoting).
type MemberExpr struct {
	P    Pos
	X    Expr
	Name string
}

// IndexExpr is "X[Index]".
type IndexExpr struct {
	P     Pos
	X     Expr
	Index Expr
}

// TypeExpr is "typeof(T)", used by mv-expand, extract and parse.
type TypeExpr struct {
	P    Pos
	Type Type
}

// StarExpr is "*" as a function argument (arg_max(x, *)).
type StarExpr struct{ P Pos }

// ParenExpr keeps explicit parentheses so the printer is faithful.
type ParenExpr struct {
	P Pos
	X Expr
}

func (*Ident) expr()       {}
func (*Literal) expr()     {}
func (*BinaryExpr) expr()  {}
func (*UnaryExpr) expr()   {}
func (*InExpr) expr()      {}
func (*BetweenExpr) expr() {}
func (*CallExpr) expr()    {}
func (*MemberExpr) expr()  {}
func (*IndexExpr) expr()   {}
func (*TypeExpr) expr()    {}
func (*StarExpr) expr()    {}
func (*ParenExpr) expr()   {}

func (n *Ident) Position() Pos       { return n.P }
func (n *Literal) Position() Pos     { return n.P }
func (n *BinaryExpr) Position() Pos  { return n.P }
func (n *UnaryExpr) Position() Pos   { return n.P }
func (n *InExpr) Position() Pos      { return n.P }
func (n *BetweenExpr) Position() Pos { return n.P }
func (n *CallExpr) Position() Pos    { return n.P }
func (n *MemberExpr) Position() Pos  { return n.P }
func (n *IndexExpr) Position() Pos   { return n.P }
func (n *TypeExpr) Position() Pos    { return n.P }
func (n *StarExpr) Position() Pos    { return n.P }
func (n *ParenExpr) Position() Pos   { return n.P }
