// Package report computes the Department of Energy's periodic reports from
// what the meters measured, not from what was declared, each bound to a
// ledger checkpoint so that anyone holding the log and the archive can
// re-derive every total (Verify).
//
// The pipeline of a report:
//
//  1. Open: the transparency log's signed tree head at a size names the
//     checkpoint (origin, tree size, RFC 6962 root); its entries, the
//     partitions' ledger checkpoints, say which offsets of inbond.events
//     they cover (OpenCheckpoint).
//  2. Read: the archive's records up to those offsets (ReadArchive), and
//     check they are the records the checkpoints committed to
//     (CheckArchive): an altered, removed or reordered record fails here.
//  3. Fold: Movements applies each shipment's records through state.Apply
//     (so a duplicate the processor ignored is ignored) and keeps what
//     crossed and when: a pipeline's entry-meter totalizer deltas, a
//     conveyance's delivery ticket, the milestones. Attribution (importer,
//     country of origin, HTS, transporter, authorization, processing
//     facility) comes from the shipment's latest manifest in the archive,
//     not from Redis: the archive alone re-derives a report.
//  4. Build: the period's EIA-814 crude rows, FE-746R natural gas rows (a
//     "no activity" report when there was none), the in-bond summary and
//     the per-shipment, per-UTC-day metering every total is a sum of. The
//     period is a UTC calendar month; a volume belongs to the period and
//     day its crossing time falls in (see Movement for the exact rule).
//  5. Encode: CSV and JSON per form (SCHEMA.md), an HTML rendering of all
//     of them, and PDF or PNG through headless Chromium.
//
// Steps 3 to 5 are pure functions: the same records give byte-identical
// files, which is what lets `inbond report verify` compare a file with its
// re-derivation byte for byte.
package report
