package main

import (
	"log/slog"

	"github.com/mfa-audit/mfa-audit/pipeline"
	"github.com/mfa-audit/mfa-audit/sources"
)

// logPoolListing logs how the whole-pool listing went: totalCount at the
// start and at the end, the unique users listed, the order asked and how
// many pages were read again because users were removed meanwhile. Other
// sources log nothing here.
func logPoolListing(log *slog.Logger, src pipeline.Source) {
	p, ok := src.(*sources.Pool)
	if !ok {
		return
	}
	start, end, listed, shifts := p.Counts()
	order := ""
	for i, k := range p.Sort() {
		if i > 0 {
			order += ", "
		}
		order += k.Field + " " + k.Order
	}
	log.Info("whole pool listed", "total_count_start", start, "total_count_end", end,
		"unique_users_listed", listed, "order", order, "pages_read_again", shifts)
}
