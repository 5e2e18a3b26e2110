// Package catalogtest builds small catalogs for the tests of packages that
// load one, so each test states only the events it is about.
package catalogtest

// Header is the head of a catalog.yaml: the defaults and every category,
// ending with "events:". Append event entries to it.
const Header = `defaults:
  partition_key: tenant_id
  retry_delays: [500ms, 2s]
categories:
  - {name: core, layer: Tenant/Identity}
  - {name: crm, layer: Sales pipeline}
  - {name: erp, layer: Commerce}
  - {name: workflow, layer: Automation}
  - {name: inosec, layer: Threat detection}
  - {name: analytics, layer: Metrics Bus}
  - {name: bridge, layer: Real-time bridge}
events:
`

// MinimalEvents is the smallest valid event list: lead.created feeding the
// bridge event crm.pipeline.refresh.
const MinimalEvents = `  - name: lead.created
    category: crm
    description: A lead entered the sales pipeline.
    source: crm-service
    consumers: [notifications-service]
    schema: crm-lead-schema-v1
    versions: [1.0.0]
    ordering: non-blocking
    ordering_why: Leads are independent.
    bridge: crm.pipeline.refresh
  - name: crm.pipeline.refresh
    category: bridge
    description: Kanban update.
    destination: CRM Dashboard
    source: notifications-service
    consumers: [notifications-service]
    schema: bridge-crm-pipeline-refresh-schema-v1
    versions: [1.0.0]
    ordering: non-blocking
    ordering_why: Superseded by the next.
`

// MinimalSchema is the smallest schema the loader accepts.
const MinimalSchema = `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
 "required": ["tenant_id"], "properties": {"tenant_id": {"type": "string", "format": "uuid"}}}`
