# Copy to terraform.tfvars (ignored by git) and edit. No credentials go here: Terraform uses your AWS profile.
region                       = "us-east-1"
cluster_name                 = "inferstack"
endpoint_public_access_cidrs = ["203.0.113.10/32"] # your public IP: curl -s https://checkip.amazonaws.com

# Reuse a VPC instead of creating one:
# vpc_id             = "vpc-0123456789abcdef0"
# private_subnet_ids = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]

node_pools = {
  graviton = { capacity_types = ["spot", "on-demand"] }
  gpu      = { capacity_types = ["on-demand"], accelerator_limit = 4 }
}

enable_kuberay              = false
enable_neuron_device_plugin = false
enable_external_secrets     = false

# opensearch_domain_arn  = "arn:aws:es:us-east-1:<account-id>:domain/inferstack"
# model_cache_bucket_arn = "arn:aws:s3:::my-model-bucket"

install_inferstack_chart = false
# inferstack_values_file = "../../helm/inferstack/examples/eks-full.yaml"
