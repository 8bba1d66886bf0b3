"""One router per resource: retrieval, stems, index jobs, and the operational endpoints."""
