"""Manifests shared by the e2e tests, written as Kubernetes users write them."""

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels:
    app: web
    tier: frontend
spec:
  containers:
  - name: main
    image: nginx:1.25
    ports:
    - containerPort: 80
  - name: side
    image: busybox
    command: ["sleep", "3600"]
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: web
        image: {image}
        env:
        - name: A
          value: "1"
        - name: B
          value: "2"
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  color: blue
  size: "3"
"""

REPLICASET = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""


def pod(name, labels=None, image="nginx:1.25"):
    lines = ["apiVersion: v1", "kind: Pod", "metadata:", f"  name: {name}"]
    if labels:
        lines.append("  labels:")
        lines += [f"    {k}: \"{v}\"" for k, v in labels.items()]
    lines += ["spec:", "  containers:", "  - name: main", f"    image: {image}"]
    return "\n".join(lines) + "\n"
