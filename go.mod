module github.com/inopsio/spine

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	sigs.k8s.io/yaml v1.6.0
)

require (
	github.com/kr/pretty v0.1.0 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	go.yaml.in/yaml/v3 v3.0.4 // indirect
	gopkg.in/check.v1 v1.0.0-20180628173108-788fd7840127 // indirect
)
