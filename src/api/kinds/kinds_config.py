"""What generate.py emits: packages, root types and the kind lines (Kubernetes' resource facts:
plural, short names, scope, categories, subresources)."""

# Load order = discovery order: core first, then apps, batch, the rest.
PACKAGES = ['meta/v1', 'core/v1', 'apps/v1', 'batch/v1', 'autoscaling/v2', 'autoscaling/v1',
            'policy/v1', 'coordination/v1', 'events/v1', 'scheduling/v1', 'authentication/v1',
            'authorization/v1', 'rbac/v1', 'networking/v1', 'discovery/v1',
            'storage/v1']

OPENAPI_PACKAGES = {
    'meta/v1': 'io.k8s.apimachinery.pkg.apis.meta.v1',
    'core/v1': 'io.k8s.api.core.v1',
    'apps/v1': 'io.k8s.api.apps.v1',
    'batch/v1': 'io.k8s.api.batch.v1',
    'autoscaling/v1': 'io.k8s.api.autoscaling.v1',
    'autoscaling/v2': 'io.k8s.api.autoscaling.v2',
    'policy/v1': 'io.k8s.api.policy.v1',
    'coordination/v1': 'io.k8s.api.coordination.v1',
    'events/v1': 'io.k8s.api.events.v1',
    'scheduling/v1': 'io.k8s.api.scheduling.v1',
    'authentication/v1': 'io.k8s.api.authentication.v1',
    'authorization/v1': 'io.k8s.api.authorization.v1',
    'rbac/v1': 'io.k8s.api.rbac.v1',
    'networking/v1': 'io.k8s.api.networking.v1',
    'discovery/v1': 'io.k8s.api.discovery.v1',
    'storage/v1': 'io.k8s.api.storage.v1',
}

# The C++ function (api/kinds/kinds.h) that returns each package's text.
FUNCS = {
    'meta/v1': 'MetaV1', 'core/v1': 'CoreV1', 'apps/v1': 'AppsV1', 'batch/v1': 'BatchV1',
    'autoscaling/v1': 'AutoscalingV1', 'autoscaling/v2': 'AutoscalingV2', 'policy/v1': 'PolicyV1',
    'coordination/v1': 'CoordinationV1', 'events/v1': 'EventsV1', 'scheduling/v1': 'SchedulingV1',
    'authentication/v1': 'AuthenticationV1', 'authorization/v1': 'AuthorizationV1',
    'rbac/v1': 'RbacV1', 'networking/v1': 'NetworkingV1', 'discovery/v1': 'DiscoveryV1',
    'storage/v1': 'StorageV1',
}

ROOTS = [
    ('meta/v1', 'DeleteOptions'), ('meta/v1', 'Status'),
    ('core/v1', 'Namespace'), ('core/v1', 'Pod'), ('core/v1', 'Node'), ('core/v1', 'Event'),
    ('core/v1', 'ConfigMap'), ('core/v1', 'Secret'), ('core/v1', 'ServiceAccount'),
    ('core/v1', 'Service'), ('core/v1', 'Endpoints'), ('core/v1', 'ReplicationController'),
    ('core/v1', 'Binding'), ('core/v1', 'PersistentVolume'), ('core/v1', 'PersistentVolumeClaim'),
    ('core/v1', 'LimitRange'), ('core/v1', 'ResourceQuota'), ('core/v1', 'PodTemplate'),
    ('apps/v1', 'Deployment'), ('apps/v1', 'ReplicaSet'), ('apps/v1', 'DaemonSet'),
    ('apps/v1', 'StatefulSet'), ('apps/v1', 'ControllerRevision'),
    ('batch/v1', 'Job'), ('batch/v1', 'CronJob'),
    ('autoscaling/v1', 'Scale'), ('autoscaling/v1', 'HorizontalPodAutoscaler'),
    ('autoscaling/v2', 'HorizontalPodAutoscaler'),
    ('policy/v1', 'Eviction'), ('policy/v1', 'PodDisruptionBudget'),
    ('coordination/v1', 'Lease'),
    ('events/v1', 'Event'),
    ('scheduling/v1', 'PriorityClass'),
    ('authentication/v1', 'SelfSubjectReview'), ('authentication/v1', 'TokenRequest'),
    ('authentication/v1', 'TokenReview'),
    ('authorization/v1', 'SelfSubjectAccessReview'), ('authorization/v1', 'SelfSubjectRulesReview'),
    ('authorization/v1', 'SubjectAccessReview'), ('authorization/v1', 'LocalSubjectAccessReview'),
    ('rbac/v1', 'ClusterRoleBinding'), ('rbac/v1', 'ClusterRole'), ('rbac/v1', 'RoleBinding'),
    ('rbac/v1', 'Role'),
    ('networking/v1', 'Ingress'), ('networking/v1', 'IngressClass'), ('networking/v1', 'NetworkPolicy'),
    ('discovery/v1', 'EndpointSlice'),
    ('storage/v1', 'StorageClass'),
]

# Rarely used (mostly cloud or legacy in-tree) volume sources: kept, but `open`, so that a
# manifest using a field we do not list is not refused.
OPEN_TYPES = {
    'AWSElasticBlockStoreVolumeSource', 'GCEPersistentDiskVolumeSource', 'AzureDiskVolumeSource',
    'AzureFileVolumeSource', 'AzureFilePersistentVolumeSource', 'CephFSVolumeSource',
    'CephFSPersistentVolumeSource', 'CinderVolumeSource', 'CinderPersistentVolumeSource',
    'FlexVolumeSource', 'FlexPersistentVolumeSource', 'FlockerVolumeSource',
    'PhotonPersistentDiskVolumeSource', 'PortworxVolumeSource', 'QuobyteVolumeSource',
    'RBDVolumeSource', 'RBDPersistentVolumeSource', 'ScaleIOVolumeSource',
    'ScaleIOPersistentVolumeSource', 'StorageOSVolumeSource', 'StorageOSPersistentVolumeSource',
    'VsphereVirtualDiskVolumeSource', 'GlusterfsVolumeSource', 'GlusterfsPersistentVolumeSource',
    'ISCSIVolumeSource', 'ISCSIPersistentVolumeSource', 'FCVolumeSource', 'GitRepoVolumeSource',
}

C = 'scope=Cluster'
N = 'scope=Namespaced'
KIND_LINES = {
    'core/v1': [
        '# Resources of the core group, in discovery order.',
        f'kind Namespace group= version=v1 plural=namespaces singular=namespace {C} type=Namespace short=ns subresources=status,finalize',
        f'kind Pod group= version=v1 plural=pods singular=pod {N} type=Pod short=po categories=all subresources=status,binding,eviction,log,exec,attach,portforward,proxy,ephemeralcontainers,resize',
        f'kind Node group= version=v1 plural=nodes singular=node {C} type=Node short=no subresources=status,proxy',
        f'kind Event group= version=v1 plural=events singular=event {N} type=Event short=ev',
        f'kind ConfigMap group= version=v1 plural=configmaps singular=configmap {N} type=ConfigMap short=cm',
        f'kind Secret group= version=v1 plural=secrets singular=secret {N} type=Secret',
        f'kind ServiceAccount group= version=v1 plural=serviceaccounts singular=serviceaccount {N} type=ServiceAccount short=sa subresources=token',
        f'kind Service group= version=v1 plural=services singular=service {N} type=Service short=svc categories=all subresources=status,proxy',
        f'kind Endpoints group= version=v1 plural=endpoints singular=endpoints {N} type=Endpoints short=ep',
        f'kind ReplicationController group= version=v1 plural=replicationcontrollers singular=replicationcontroller {N} type=ReplicationController short=rc categories=all subresources=status,scale',
        f'kind Binding group= version=v1 plural=bindings singular=binding {N} type=Binding verbs=create',
        f'kind PersistentVolume group= version=v1 plural=persistentvolumes singular=persistentvolume {C} type=PersistentVolume short=pv subresources=status',
        f'kind PersistentVolumeClaim group= version=v1 plural=persistentvolumeclaims singular=persistentvolumeclaim {N} type=PersistentVolumeClaim short=pvc subresources=status',
        f'kind LimitRange group= version=v1 plural=limitranges singular=limitrange {N} type=LimitRange short=limits',
        f'kind ResourceQuota group= version=v1 plural=resourcequotas singular=resourcequota {N} type=ResourceQuota short=quota subresources=status',
        f'kind PodTemplate group= version=v1 plural=podtemplates singular=podtemplate {N} type=PodTemplate',
    ],
    'apps/v1': [
        f'kind Deployment group=apps version=v1 plural=deployments singular=deployment {N} type=Deployment short=deploy categories=all subresources=status,scale',
        f'kind ReplicaSet group=apps version=v1 plural=replicasets singular=replicaset {N} type=ReplicaSet short=rs categories=all subresources=status,scale',
        f'kind DaemonSet group=apps version=v1 plural=daemonsets singular=daemonset {N} type=DaemonSet short=ds categories=all subresources=status',
        f'kind StatefulSet group=apps version=v1 plural=statefulsets singular=statefulset {N} type=StatefulSet short=sts categories=all subresources=status,scale',
        f'kind ControllerRevision group=apps version=v1 plural=controllerrevisions singular=controllerrevision {N} type=ControllerRevision',
    ],
    'batch/v1': [
        f'kind Job group=batch version=v1 plural=jobs singular=job {N} type=Job categories=all subresources=status',
        f'kind CronJob group=batch version=v1 plural=cronjobs singular=cronjob {N} type=CronJob short=cj categories=all subresources=status',
    ],
    'autoscaling/v2': [
        '# v2 is the preferred version of the autoscaling group, so it is registered first.',
        f'kind HorizontalPodAutoscaler group=autoscaling version=v2 plural=horizontalpodautoscalers singular=horizontalpodautoscaler {N} type=HorizontalPodAutoscaler short=hpa categories=all subresources=status',
    ],
    'autoscaling/v1': [
        f'kind HorizontalPodAutoscaler group=autoscaling version=v1 plural=horizontalpodautoscalers singular=horizontalpodautoscaler {N} type=HorizontalPodAutoscaler short=hpa categories=all subresources=status',
    ],
    'policy/v1': [
        f'kind PodDisruptionBudget group=policy version=v1 plural=poddisruptionbudgets singular=poddisruptionbudget {N} type=PodDisruptionBudget short=pdb subresources=status',
    ],
    'coordination/v1': [
        f'kind Lease group=coordination.k8s.io version=v1 plural=leases singular=lease {N} type=Lease',
    ],
    'events/v1': [
        f'kind Event group=events.k8s.io version=v1 plural=events singular=event {N} type=Event short=ev',
    ],
    'scheduling/v1': [
        f'kind PriorityClass group=scheduling.k8s.io version=v1 plural=priorityclasses singular=priorityclass {C} type=PriorityClass short=pc',
    ],
    'authentication/v1': [
        '# Reviews: created, answered, never stored.',
        f'kind SelfSubjectReview group=authentication.k8s.io version=v1 plural=selfsubjectreviews singular=selfsubjectreview {C} type=SelfSubjectReview verbs=create',
        f'kind TokenReview group=authentication.k8s.io version=v1 plural=tokenreviews singular=tokenreview {C} type=TokenReview verbs=create',
    ],
    'authorization/v1': [
        f'kind SelfSubjectAccessReview group=authorization.k8s.io version=v1 plural=selfsubjectaccessreviews singular=selfsubjectaccessreview {C} type=SelfSubjectAccessReview verbs=create',
        f'kind SelfSubjectRulesReview group=authorization.k8s.io version=v1 plural=selfsubjectrulesreviews singular=selfsubjectrulesreview {C} type=SelfSubjectRulesReview verbs=create',
        f'kind SubjectAccessReview group=authorization.k8s.io version=v1 plural=subjectaccessreviews singular=subjectaccessreview {C} type=SubjectAccessReview verbs=create',
        f'kind LocalSubjectAccessReview group=authorization.k8s.io version=v1 plural=localsubjectaccessreviews singular=localsubjectaccessreview {N} type=LocalSubjectAccessReview verbs=create',
    ],
    'rbac/v1': [
        '# Read by the RBAC authorizer (src/apiserver/rbac.h).',
        f'kind ClusterRoleBinding group=rbac.authorization.k8s.io version=v1 plural=clusterrolebindings singular=clusterrolebinding {C} type=ClusterRoleBinding',
        f'kind ClusterRole group=rbac.authorization.k8s.io version=v1 plural=clusterroles singular=clusterrole {C} type=ClusterRole',
        f'kind RoleBinding group=rbac.authorization.k8s.io version=v1 plural=rolebindings singular=rolebinding {N} type=RoleBinding',
        f'kind Role group=rbac.authorization.k8s.io version=v1 plural=roles singular=role {N} type=Role',
    ],
    'networking/v1': [
        '# Stored and served; no ingress controller or policy enforcement acts on them yet.',
        f'kind IngressClass group=networking.k8s.io version=v1 plural=ingressclasses singular=ingressclass {C} type=IngressClass',
        f'kind Ingress group=networking.k8s.io version=v1 plural=ingresses singular=ingress {N} type=Ingress short=ing subresources=status',
        f'kind NetworkPolicy group=networking.k8s.io version=v1 plural=networkpolicies singular=networkpolicy {N} type=NetworkPolicy short=netpol',
    ],
    'discovery/v1': [
        '# Written by the endpointslice controller for Services with a selector.',
        f'kind EndpointSlice group=discovery.k8s.io version=v1 plural=endpointslices singular=endpointslice {N} type=EndpointSlice',
    ],
    'storage/v1': [
        '# Stored and served; no provisioner acts on them yet.',
        f'kind StorageClass group=storage.k8s.io version=v1 plural=storageclasses singular=storageclass {C} type=StorageClass short=sc',
    ],
}

# Fields Kubernetes' OpenAPI lists as required (no omitempty, no +optional) whose absence the
# API server nevertheless accepts, since Go decodes them to a zero value that validation allows.
NOT_REQUIRED = {
    'StatefulSetSpec.serviceName', 'HTTPHeader.value', 'Sysctl.value', 'Event.metadata',
    'Event.involvedObject', 'ControllerRevision.revision', 'LimitRangeSpec.limits',
    'PodFailurePolicy.rules', 'SleepAction.seconds', 'ISCSIVolumeSource.lun',
    'ISCSIPersistentVolumeSource.lun', 'PriorityClass.value',
    # kubectl create token sends no audiences when none are asked for: the server's are used.
    'TokenRequestSpec.audiences',
}
