// Package cloudmove will move AWS resources (ENI secondary IPs, Elastic IPs,
// VPC routes, EBS volumes) to a node when it becomes master.
//
// It is empty until the cloud-actions issue lands; nothing depends on it yet.
package cloudmove
