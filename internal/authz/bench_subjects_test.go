package authz

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkLookupSubjects: the users who may read one Project of the
// benchmark tenancy, through its role groups (nested, some cyclic), the
// Domain's admins (the lookup user, two groups deep) and the platform
// admins; then the same for one Resource, one level lower.
func BenchmarkLookupSubjects(b *testing.B) {
	f := benchFixture(b)
	ctx := context.Background()
	users := SubjectType{Type: TypeUser}
	for _, c := range []struct {
		name string
		obj  ObjectRef
		perm string
	}{
		{"project", ObjectRef{TypeProject, "d0p3"}, "read"},
		{"resource", ObjectRef{TypeResource, "d0p3r7"}, "observe"},
	} {
		b.Run(c.name, func(b *testing.B) {
			got, err := f.engine.LookupSubjects(ctx, c.obj, c.perm, users)
			if err != nil || !slices.Contains(got, f.lookup) || !slices.Contains(got, benchUser(0)) {
				b.Fatalf("lookup-subjects %s#%s: %d subjects, %v; want the lookup user and the platform admin", c.obj, c.perm, len(got), err)
			}
			var durs []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				if _, err := f.engine.LookupSubjects(ctx, c.obj, c.perm, users); err != nil {
					b.Fatal(err)
				}
				durs = append(durs, time.Since(start))
			}
			b.ReportMetric(float64(len(got)), "subjects")
			reportPercentiles(b, "", durs)
		})
	}
}
