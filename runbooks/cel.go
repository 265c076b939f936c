package runbooks

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// celCostLimit bounds one evaluation of a `when` condition. Conditions are a comparison
// or two; the limit only stops a pathological comprehension from stalling a workflow task.
const celCostLimit = 100_000

// celEnv declares the variables a `when` condition may read. They are dynamic maps with
// the shapes of Scope.data. Cross-type numeric comparisons are on so that a step output
// (a float64 after JSON) compares with an int literal: steps.changes.outputs.count > 0.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	dynMap := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("params", dynMap),
		cel.Variable("alert", dynMap),
		cel.Variable("steps", dynMap),
		cel.Variable("incident", dynMap),
		cel.CrossTypeNumericComparisons(true),
	)
})

// compileWhen parses and type-checks a condition. The error lists every issue CEL found.
func compileWhen(expr string) (*cel.Ast, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("%s (line %d, column %d)", e.Message, e.Location.Line(), e.Location.Column()+1))
		}
		return nil, fmt.Errorf("bad CEL: %s", strings.Join(msgs, "; "))
	}
	if t := ast.OutputType(); t.Kind() != types.BoolKind && t.Kind() != types.DynKind {
		return nil, fmt.Errorf("must be true or false, but this expression gives a %s", t)
	}
	return ast, nil
}

// Compiled programs are cached by expression text; cel.Program is safe for concurrent use.
var programCache = struct {
	sync.Mutex
	m map[string]cel.Program
}{m: map[string]cel.Program{}}

const maxCachedPrograms = 1024

func cachedProgram(expr string) (cel.Program, error) {
	programCache.Lock()
	p, ok := programCache.m[expr]
	programCache.Unlock()
	if ok {
		return p, nil
	}
	ast, err := compileWhen(expr)
	if err != nil {
		return nil, err
	}
	env, _ := celEnv() // compileWhen succeeded, so the env exists
	p, err = env.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		return nil, fmt.Errorf("CEL program: %w", err)
	}
	programCache.Lock()
	if len(programCache.m) >= maxCachedPrograms {
		programCache.m = map[string]cel.Program{}
	}
	programCache.m[expr] = p
	programCache.Unlock()
	return p, nil
}

// EvalWhen evaluates a step's `when` condition over the scope. An empty condition is true;
// a result that is not a bool is an error. The evaluation is pure: CEL here has no clock,
// randomness or I/O, and the result does not depend on map iteration order (exists/all
// are order-independent; the result is a bool).
func EvalWhen(expr string, s Scope) (bool, error) {
	if strings.TrimSpace(expr) == "" {
		return true, nil
	}
	p, err := cachedProgram(expr)
	if err != nil {
		return false, fmt.Errorf("when %q: %w", expr, err)
	}
	out, _, err := p.Eval(s.data())
	if err != nil {
		return false, fmt.Errorf("when %q: %w", expr, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("when %q gave %v (%s), not true or false", expr, out.Value(), out.Type().TypeName())
	}
	return b, nil
}

// celRefs lists the select chains rooted at a variable, e.g. [steps changes outputs count]
// for steps.changes.outputs.count or steps["changes"].outputs.count. Every prefix of a
// chain is listed as well.
func celRefs(a *cel.Ast) [][]string {
	var refs [][]string
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if chain, ok := selectChain(e, 0); ok && len(chain) >= 2 {
			refs = append(refs, chain)
		}
	}))
	return refs
}

func selectChain(e celast.Expr, depth int) ([]string, bool) {
	if depth > 32 {
		return nil, false
	}
	switch e.Kind() {
	case celast.IdentKind:
		return []string{e.AsIdent()}, true
	case celast.SelectKind:
		s := e.AsSelect()
		c, ok := selectChain(s.Operand(), depth+1)
		if !ok {
			return nil, false
		}
		return append(c, s.FieldName()), true
	case celast.CallKind:
		call := e.AsCall()
		args := call.Args()
		if call.FunctionName() != "_[_]" || len(args) != 2 || args[1].Kind() != celast.LiteralKind {
			return nil, false
		}
		key, ok := args[1].AsLiteral().Value().(string)
		if !ok {
			return nil, false
		}
		c, ok := selectChain(args[0], depth+1)
		if !ok {
			return nil, false
		}
		return append(c, key), true
	}
	return nil, false
}

// whenReadsSteps reports whether a condition reads step outputs or states (then Plan
// cannot decide it beforehand).
func whenReadsSteps(expr string) bool {
	ast, err := compileWhen(expr)
	if err != nil {
		return false
	}
	found := false
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind && e.AsIdent() == "steps" {
			found = true
		}
	}))
	return found
}
