"""Named faults: each makes the simulator break one catalogue rule the way a real server might.

Faults are a self-test device. They are off unless named, and the simulator behaves exactly as
documented when none is. A rule ID here is plain data: the simulator never imports the rule code,
so a wrong rule and a wrong server cannot agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    rule: str
    description: str
    # What the same defect necessarily fails as well, in the suite's scenarios: rules, and schemathesis checks
    # by code and name ("ST203 missing_required_header").
    also: tuple[str, ...] = ()


_FAULTS = [
    Fault("status-without-created-at", "EM-SHAPE-001", "the batch status leaves out createdAt"),
    Fault("status-extra-field", "EM-SHAPE-002", "the batch status carries an undocumented region field"),
    Fault("accepted-numeric-batch-id", "EM-SHAPE-003", "the 202 answer gives batchId as a JSON number"),
    Fault("source-as-number", "EM-SHAPE-004", "source is a number instead of a string"),
    Fault("accepted-extra-field", "EM-INGEST-001", "the 202 answer carries an undocumented status field"),
    Fault("accepted-id-reused", "EM-INGEST-007", "every 202 answer names the first batch ever created",
          also=("EM-INGEST-010",)),
    Fault("count-as-string", "EM-COUNT-001", "the batch status gives acceptedCount as a string"),
    Fault("total-errors-capped", "EM-COUNT-002", "totalErrorCount counts only the 20 errors shown"),
    Fault("warnings-counted-as-errors", "EM-COUNT-003",
          "a batch without rejected records reports one error in totalErrorCount"),
    Fault("status-internal-name", "EM-STATUS-001", "PROCESSING is reported under the internal name ANALYZING"),
    Fault("failed-without-errors", "EM-STATUS-002", "a FAILED batch shows no errors"),
    Fault("created-at-in-seconds", "EM-TIME-001", "createdAt is in seconds, not milliseconds"),
    Fault("errors-uncapped", "EM-ERR-001", "errors lists every error, past 20"),
    Fault("error-item-extra-field", "EM-ERR-002", "each error item carries an undocumented field"),
    Fault("total-counts-records", "EM-ERR-003", "totalErrorCount counts rejected records, not errors"),
    Fault("error-index-past-end", "EM-ERR-004", "error indexes are offset by the size of the batch",
          also=("EM-SENT-006",)),
    Fault("errors-blame-next-record", "EM-ERR-005", "each record's last error is filed under the next record",
          also=("EM-SENT-006", "EM-ERR-004")),
    Fault("errors-sample-short", "EM-ERR-006", "the 202 answer lists only the first 10 errors"),
    Fault("errors-reverse-order", "EM-ERR-007", "errors are listed last record first"),
    Fault("download-status-unknown-name", "EM-ATT-001", "downloads in progress are reported as DOWNLOADING"),
    Fault("download-counter-as-string", "EM-ATT-002", "attachmentDownloadComplete is a string"),
    # Counted twice, the counters claim every download done while one still runs, which is what EM-SENT-010 and
    # EM-SENT-012 take as "every download counted".
    Fault("failed-downloads-counted-complete", "EM-ATT-003", "a failed download is counted both failed and complete",
          also=("EM-ATT-006", "EM-SENT-010", "EM-SENT-012")),
    Fault("download-status-missing", "EM-ATT-004", "attachmentDownloadStatus is left out"),
    Fault("download-fields-canned", "EM-SENT-008",
          "a batch without attachments shows one download, PENDING for ever, as a mock's canned answer does",
          also=("EM-ATT-005",)),
    Fault("download-fields-always", "EM-ATT-005",
          "download fields with a total of 0 are shown for batches without attachments", also=("EM-SENT-008",)),
    Fault("download-complete-despite-failures", "EM-ATT-006",
          "attachmentDownloadStatus ends COMPLETE although some downloads failed"),
    Fault("download-counters-always", "EM-ATT-007",
          "batches without attachments show complete and failed counters of 0"),
    Fault("download-status-stale", "EM-ATT-008", "attachmentDownloadStatus stays PENDING until downloads end"),
    Fault("status-internal-id", "EM-SENT-001", "the batch status names the batch by an internal id"),
    Fault("accepted-count-off-by-one", "EM-SENT-002", "acceptedCount is one more than the valid records",
          also=("EM-INGEST-008",)),
    Fault("status-total-drifts", "EM-SENT-003", "the batch status counts one error more than the 202 did"),
    Fault("status-error-codes-differ", "EM-SENT-004", "the batch status gives its errors another code than the 202"),
    Fault("nature-not-validated", "EM-SENT-005", "records with an unknown _nature are accepted",
          also=("EM-SENT-006",)),
    Fault("error-index-one-based", "EM-SENT-006", "error indexes count from 1", also=("EM-ERR-004",)),
    Fault("type-upper-case", "EM-SENT-007", "type is the records' _type in upper case"),
    Fault("created-at-skewed", "EM-SENT-009", "createdAt runs ten minutes ahead"),
    Fault("created-at-zero", "EM-SENT-009", "createdAt is 0, as a mock answering the published example sends"),
    Fault("unreachable-downloads-succeed", "EM-SENT-010", "downloads from .invalid addresses count as complete"),
    Fault("status-errors-reworded", "EM-SENT-011", "the batch status words its errors unlike the 202"),
    Fault("reachable-downloads-fail", "EM-SENT-012", "every download fails, from reachable addresses too"),
    Fault("new-batch-not-found", "EM-INGEST-002", "a batch answers 404 for its first thirty seconds",
          also=("EM-HTTP-008",)),
    Fault("idempotency-ignored", "EM-INGEST-003", "a repeated Idempotency-Key creates a new batch"),
    Fault("replay-processed-again", "EM-INGEST-010",
          "a replay gets the original answer, but its records are processed again as a new batch"),
    Fault("format-changes-validation", "EM-INGEST-011",
          "with format=file, a record without attachments is rejected"),
    *(Fault(name, "EM-INGEST-012", description, also=("EM-SENT-005", "EM-SENT-006")) for name, description in (
        ("tags-capped-at-100", "a record with more than 100 tags is rejected"),
        ("tag-length-capped-at-32", "a record with a tag over 32 characters is rejected"),
        ("attachments-capped-at-5", "a record with more than 5 attachments is rejected"),
        ("attachment-url-capped-at-1024", "a record with a vendor_url over 1,024 characters is rejected"),
        ("thread-id-capped-at-256", "a record with a _thread_id over 256 characters is rejected"),
        ("participants-capped-at-1000", "a record with more than 1,000 participants is rejected"),
        ("event-at-milliseconds-rejected", "a record whose _event_at has milliseconds is rejected"))),
    Fault("idempotency-key-capped-at-128", "EM-INGEST-012",
          "an Idempotency-Key over 128 characters is refused with 400", also=("EM-INGEST-006",)),
    Fault("thousand-records-refused", "EM-INGEST-008", "a batch of exactly 1,000 records is refused with 400",
          also=("EM-INGEST-006",)),
    Fault("size-limit-4mb", "EM-INGEST-009", "a body over 4,000,000 bytes is answered 413",
          also=("EM-INGEST-006",)),
    Fault("empty-batch-accepted", "EM-INGEST-004", "an empty array is accepted as a batch"),
    Fault("no-size-limit", "EM-INGEST-005", "a body over 5 MB is accepted"),
    Fault("invalid-record-refuses-batch", "EM-INGEST-006", "a batch holding an invalid record is refused with 400"),
    Fault("status-flaps", "EM-SERIES-001", "every other read of a PROCESSING batch says LANDED, for two seconds"),
    Fault("counts-change-when-complete", "EM-SERIES-002",
          "an ended batch reports one more accepted record", also=("EM-SENT-002", "EM-SENT-003")),
    Fault("source-rewritten-when-complete", "EM-SERIES-003", "source changes once the batch ends"),
    Fault("download-complete-counter-dips", "EM-SERIES-004",
          "the complete-download counter drops back on every other read while downloads run"),
    Fault("failed-download-counter-dips", "EM-SERIES-008",
          "the failed-download counter drops back while a retry runs"),
    Fault("download-status-flaps", "EM-SERIES-005",
          "a download in progress reads PENDING on every other read, for two seconds"),
    Fault("batches-stuck-processing", "EM-SERIES-006", "no batch ever leaves PROCESSING"),
    Fault("downloads-never-finish", "EM-SERIES-007", "downloads stall after the first"),
    Fault("missing-key-allowed", "EM-AUTH-001", "a request without a key is served as the first workspace",
          also=("ST203 missing_required_header",)),
    Fault("any-key-accepted", "EM-AUTH-002", "an unknown key is served as the first workspace's write key"),
    Fault("read-key-refused-status", "EM-AUTH-003", "an api:read key is refused batch status with 403"),
    Fault("read-key-can-ingest", "EM-AUTH-004", "an api:read key may send records"),
    Fault("cross-workspace-read", "EM-AUTH-005", "any workspace's batch can be read by its id"),
    Fault("list-all-workspaces", "EM-AUTH-006", "the list shows every workspace's batches"),
    Fault("unknown-id-400", "EM-ID-001", "a well-formed id that names no batch is answered 400"),
    Fault("long-id-crashes", "EM-ID-002", "an id over 128 characters is answered 500",
          also=("ST101 not_a_server_error",)),
    Fault("id-128-refused", "EM-ID-004", "an id of exactly 128 characters is answered 414"),
    Fault("quoted-id-crashes", "EM-ID-003", "a quoted id is answered 500", also=("ST101 not_a_server_error",)),
    Fault("text-plain-content-type", "EM-HTTP-001", "the batch status is labelled text/plain"),
    Fault("truncated-list-body", "EM-HTTP-002", "the list body is cut off before its end"),
    Fault("bad-request-problem-json", "EM-HTTP-003", "400 answers carry a problem+json shaped body"),
    Fault("ingest-created-201", "EM-HTTP-004", "an accepted batch is answered 201 instead of 202"),
    Fault("status-connection-drops", "EM-HTTP-007", "every 8th batch status read drops the connection mid-answer"),
    Fault("list-always-400", "EM-HTTP-008", "the list answers 400 to every request",
          also=("EM-LIST-007", "EM-HTTP-011")),
    Fault("ndjson-refused-415", "EM-HTTP-008", "an NDJSON body is refused with 415",
          also=("EM-INGEST-006", "EM-HTTP-011")),
    Fault("format-hint-refused-406", "EM-HTTP-011", "an ingest with a format hint is answered 406",
          also=("EM-INGEST-011",)),
    Fault("error-body-problem-json", "EM-HTTP-009", "404 answers carry a problem+json shaped body"),
    Fault("bad-limit-422", "EM-HTTP-010", "a limit outside 1 to 100 is answered 422"),
    Fault("other-methods-404", "EM-HTTP-005", "a method a path does not define is answered 404"),
    Fault("405-without-allow", "EM-HTTP-006", "405 answers carry no Allow header"),
    Fault("rate-limit-without-retry-after", "EM-RATE-001",
          "every 40th request is answered 429 without retryAfter"),
    Fault("key-echoed-in-header", "EM-SEC-001", "every answer echoes the API key in an x-debug-key header"),
    Fault("list-missing-next-cursor", "EM-LIST-001", "the last page leaves out nextCursor instead of null"),
    Fault("limit-ignored", "EM-LIST-002", "a page holds up to 100 batches whatever the limit"),
    Fault("list-oldest-first", "EM-LIST-003", "the list is ordered oldest first"),
    Fault("new-batches-hidden", "EM-LIST-004", "batches younger than a minute are left out of the list"),
    Fault("cursor-repeats-last", "EM-LIST-005", "each page starts with the last batch of the page before"),
    Fault("limit-100-refused", "EM-LIST-007", "a limit of 100, the documented maximum, is answered 400",
          also=("EM-HTTP-011",)),
    Fault("limit-1-refused", "EM-LIST-007", "a limit of 1, the documented minimum, is answered 400",
          also=("EM-HTTP-011",)),
    Fault("list-status-stale", "EM-LIST-008", "the list shows every batch as LANDING, whatever its status"),
    Fault("limit-clamped", "EM-LIST-006", "a limit over 100 is served as 100",
          also=("ST201 negative_data_rejection",)),
]

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _FAULTS}


class UnknownFault(ValueError):
    pass


class FaultSet:
    """The faults switched on for one simulator."""

    def __init__(self, names: list[str] | tuple[str, ...] = ()):
        unknown = [name for name in names if name not in FAULTS]
        if unknown:
            raise UnknownFault(f"no fault named {unknown[0]!r}; --list-faults shows them all")
        self.names = frozenset(names)

    def __contains__(self, name: str) -> bool:
        if name not in FAULTS:
            raise UnknownFault(f"the simulator asks for an undeclared fault {name!r}")
        return name in self.names

    def __bool__(self) -> bool:
        return bool(self.names)
