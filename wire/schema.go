package wire

import (
	"embed"
	"io/fs"
)

// SchemaBaseURI is the base of every schema's $id; the schemas refer to each
// other relative to it. It names the schemas and is not a place to fetch
// them from (the .invalid domain never resolves): the API will serve each
// file under its own name.
const SchemaBaseURI = "https://inbond.invalid/schema/v1/"

//go:embed schema/*.schema.json
var schemaFiles embed.FS

// Schemas returns the contract as JSON Schema (draft 2020-12), one file per
// form and payload, so that carriers can check a message before they send
// it:
//
//   - input.schema.json: any body a carrier publishes (it selects one of the next three);
//   - compact.schema.json: the compact form (Compact);
//   - cloudevent.schema.json: a structured-mode CloudEvent;
//   - manifest.schema.json: an in-bond manifest, bare or as an event's data;
//   - <type>.schema.json for every payload, named by the type's short name
//     (meter, position, …, delivered);
//   - common.schema.json: the definitions they share.
//
// They accept exactly the bodies the gateways' decoder accepts, except for
// what only the gateway can know (the channel, the topic or record key, the
// receive time) or that JSON Schema cannot state (I-JSON's unique names and
// valid UTF-8, the in-bond check digit, comparisons between two fields); the
// schemas' descriptions say which, and TestSchemasMatchTheDecoder in package
// ingest lists each such case with its reason.
func Schemas() fs.FS {
	sub, err := fs.Sub(schemaFiles, "schema")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}
