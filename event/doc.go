// Package event defines the envelope every Inopsio event travels in: the
// standard header of spec §3 and an opaque JSON payload. It is the innermost
// package of Spine: it knows nothing of the catalog, schemas or transports,
// and everything else depends on it.
package event
