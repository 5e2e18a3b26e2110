package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Handler serves reg over the Confluent Schema Registry REST API, so any
// Confluent serializer or deserializer — Java, kafkajs' schema-registry
// client, confluent-kafka-python — can use Spine's local registry as its
// schema.registry.url. `spine dev` mounts it at its HTTP address.
//
// Served: GET /schemas/ids/{id}[/schema], GET /subjects, GET
// /subjects/{s}/versions, GET /subjects/{s}/versions/{v|latest}[/schema],
// POST /subjects/{s} (look up), POST /subjects/{s}/versions (register), GET
// and PUT /config[/{s}], POST /compatibility/subjects/{s}/versions[/{v}].
func Handler(reg Registry) http.Handler {
	s := &server{reg: reg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /schemas/ids/{id}", s.schemaByID)
	mux.HandleFunc("GET /schemas/ids/{id}/schema", s.schemaByIDRaw)
	mux.HandleFunc("GET /subjects", s.subjects)
	mux.HandleFunc("GET /subjects/{subject}/versions", s.versions)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", s.version)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", s.versionRaw)
	mux.HandleFunc("POST /subjects/{subject}", s.lookup)
	mux.HandleFunc("POST /subjects/{subject}/versions", s.register)
	mux.HandleFunc("GET /config", s.getConfig)
	mux.HandleFunc("GET /config/{subject}", s.getConfig)
	mux.HandleFunc("PUT /config", s.putConfig)
	mux.HandleFunc("PUT /config/{subject}", s.putConfig)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", s.compatibility)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", s.compatibility)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, 404, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type server struct{ reg Registry }

// maxRequestBytes bounds request bodies: a schema is a few kilobytes.
const maxRequestBytes = 1 << 20

// Confluent error codes used in responses.
const (
	codeSubjectNotFound = 40401
	codeVersionNotFound = 40402
	codeSchemaNotFound  = 40403
	codeInvalidSchema   = 42201
	codeInvalidVersion  = 42202
	codeInvalidLevel    = 42203
	codeStore           = 50001
)

type schemaBody struct {
	Schema     string     `json:"schema"`
	SchemaType SchemaType `json:"schemaType,omitempty"`
}

type subjectSchemaBody struct {
	Subject    string     `json:"subject"`
	Version    int        `json:"version"`
	ID         int        `json:"id"`
	SchemaType SchemaType `json:"schemaType,omitempty"`
	Schema     string     `json:"schema"`
}

func toBody(ss SubjectSchema) subjectSchemaBody {
	return subjectSchemaBody{Subject: ss.Subject, Version: ss.Version, ID: ss.ID, SchemaType: ss.Type, Schema: string(ss.Text)}
}

func (s *server) schemaByID(w http.ResponseWriter, r *http.Request) {
	sch, ok := s.byID(w, r)
	if ok {
		writeJSON(w, http.StatusOK, schemaBody{Schema: string(sch.Text), SchemaType: sch.Type})
	}
}

func (s *server) schemaByIDRaw(w http.ResponseWriter, r *http.Request) {
	if sch, ok := s.byID(w, r); ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(sch.Text)
	}
}

func (s *server) byID(w http.ResponseWriter, r *http.Request) (Schema, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 {
		writeError(w, http.StatusNotFound, codeSchemaNotFound, fmt.Sprintf("schema id %q not found", r.PathValue("id")))
		return Schema{}, false
	}
	sch, err := s.reg.SchemaByID(r.Context(), id)
	if err != nil {
		writeRegistryError(w, err, codeSchemaNotFound)
		return Schema{}, false
	}
	return sch, true
}

func (s *server) subjects(w http.ResponseWriter, r *http.Request) {
	subs, err := s.reg.Subjects(r.Context())
	if err != nil {
		writeRegistryError(w, err, codeSubjectNotFound)
		return
	}
	writeJSON(w, http.StatusOK, subs)
}

func (s *server) versions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.reg.Versions(r.Context(), r.PathValue("subject"))
	if err != nil {
		writeRegistryError(w, err, codeSubjectNotFound)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (s *server) version(w http.ResponseWriter, r *http.Request) {
	if ss, ok := s.subjectVersion(w, r); ok {
		writeJSON(w, http.StatusOK, toBody(ss))
	}
}

func (s *server) versionRaw(w http.ResponseWriter, r *http.Request) {
	if ss, ok := s.subjectVersion(w, r); ok {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(ss.Text)
	}
}

func (s *server) subjectVersion(w http.ResponseWriter, r *http.Request) (SubjectSchema, bool) {
	subject, v := r.PathValue("subject"), r.PathValue("version")
	var ss SubjectSchema
	var err error
	if v == "latest" || v == "-1" {
		ss, err = s.reg.Latest(r.Context(), subject)
	} else {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, codeInvalidVersion, fmt.Sprintf("version %q is not a positive integer or latest", v))
			return SubjectSchema{}, false
		}
		ss, err = s.reg.SchemaByVersion(r.Context(), subject, n)
	}
	if err != nil {
		writeRegistryError(w, err, codeVersionNotFound)
		return SubjectSchema{}, false
	}
	return ss, true
}

func (s *server) lookup(w http.ResponseWriter, r *http.Request) {
	body, ok := readSchemaBody(w, r)
	if !ok {
		return
	}
	ss, err := s.reg.Lookup(r.Context(), r.PathValue("subject"), []byte(body.Schema))
	if err != nil {
		writeRegistryError(w, err, codeSchemaNotFound)
		return
	}
	writeJSON(w, http.StatusOK, toBody(ss))
}

func (s *server) register(w http.ResponseWriter, r *http.Request) {
	body, ok := readSchemaBody(w, r)
	if !ok {
		return
	}
	id, err := s.reg.Register(r.Context(), r.PathValue("subject"), []byte(body.Schema))
	if err != nil {
		writeRegistryError(w, err, codeStore)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"id": id})
}

func (s *server) getConfig(w http.ResponseWriter, r *http.Request) {
	level, err := s.reg.Compatibility(r.Context(), r.PathValue("subject"))
	if err != nil {
		writeRegistryError(w, err, codeSubjectNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]CompatibilityLevel{"compatibilityLevel": level})
}

func (s *server) putConfig(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Compatibility CompatibilityLevel `json:"compatibility"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&body); err != nil {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidLevel, "request body is not {\"compatibility\": LEVEL}: "+err.Error())
		return
	}
	if err := s.reg.SetCompatibility(r.Context(), r.PathValue("subject"), body.Compatibility); err != nil {
		writeRegistryError(w, err, codeStore)
		return
	}
	writeJSON(w, http.StatusOK, map[string]CompatibilityLevel{"compatibility": body.Compatibility})
}

func (s *server) compatibility(w http.ResponseWriter, r *http.Request) {
	body, ok := readSchemaBody(w, r)
	if !ok {
		return
	}
	res, err := s.reg.CheckCompatibility(r.Context(), r.PathValue("subject"), []byte(body.Schema))
	if err != nil {
		writeRegistryError(w, err, codeStore)
		return
	}
	msgs := res.Messages
	if msgs == nil {
		msgs = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"is_compatible": res.Compatible, "messages": msgs})
}

func readSchemaBody(w http.ResponseWriter, r *http.Request) (schemaBody, bool) {
	var body schemaBody
	if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&body); err != nil || body.Schema == "" {
		msg := "request body must be {\"schema\": \"…\", \"schemaType\": \"JSON\"}"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, msg)
		return schemaBody{}, false
	}
	if body.SchemaType != "" && body.SchemaType != TypeJSON {
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, fmt.Sprintf("schemaType %q: this registry holds JSON schemas only", body.SchemaType))
		return schemaBody{}, false
	}
	return body, true
}

// writeRegistryError maps the package's errors to Confluent statuses.
func writeRegistryError(w http.ResponseWriter, err error, notFoundCode int) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, notFoundCode, err.Error())
	case errors.Is(err, ErrIncompatible):
		writeError(w, http.StatusConflict, 409, err.Error())
	case errors.Is(err, ErrInvalidSchema):
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, err.Error())
	case errors.Is(err, ErrInvalidLevel):
		writeError(w, http.StatusUnprocessableEntity, codeInvalidLevel, err.Error())
	case errors.Is(err, ErrReadOnly):
		writeError(w, http.StatusUnprocessableEntity, codeInvalidSchema, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, codeStore, err.Error())
	}
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"error_code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
